/* tests/cli/test_gnuplot.c: no output path, host name or CUTOVER_GNUPLOT
 * value reaches gnuplot or a shell as code (cli/gnuplot.h).
 *
 * cutover runs with fork + execv (no shell: the hostile names stay bytes)
 * in a private directory, which is also its working directory, so a
 * command smuggled into a name (`touch pwned-...`, relative) would leave
 * its file there; each test asserts none appeared and the plot was written
 * to exactly the path asked. Skips with a reason when gnuplot is absent. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[64], g_err[4096];
static char g_cwd[4096];

static void init(void)
{
    strcpy(g_dir, "/tmp/cogp-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    cr_assert_not_null(getcwd(g_cwd, sizeof g_cwd));
}

static void fini(void)
{
    /* every file the tests made is in g_dir, names with quotes included */
    DIR *dp = opendir(g_dir);
    struct dirent *e;
    char p[4400];
    while (dp && (e = readdir(dp)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    if (dp)
        closedir(dp);
    rmdir(g_dir);
}

TestSuite(gnuplot, .init = init, .fini = fini, .timeout = 120);

static void need_gnuplot(void)
{
    const char *dirs[] = {"/usr/bin/gnuplot", "/usr/local/bin/gnuplot", "/bin/gnuplot"};
    for (int i = 0; i < 3; i++)
        if (access(dirs[i], X_OK) == 0)
            return;
    cr_skip_test("gnuplot not installed (apt-get install gnuplot-nox): plots not checked");
}

/* Run cutover with argv (NULL-terminated, without the binary) in g_dir;
 * stderr into g_err. gp_env: CUTOVER_GNUPLOT for the child, or NULL. */
static int run(const char *const *args, const char *gp_env)
{
    const char *bin = getenv("CUTOVER_BIN");
    char binabs[4200];
    if (bin == NULL)
        bin = "build/cutover";
    if (bin[0] != '/')
        snprintf(binabs, sizeof binabs, "%s/%s", g_cwd, bin);
    else
        snprintf(binabs, sizeof binabs, "%s", bin);
    char errpath[128];
    snprintf(errpath, sizeof errpath, "%s/.stderr", g_dir);
    pid_t p = fork();
    if (p == 0) {
        int nul = open("/dev/null", O_RDWR);
        int ef = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (nul < 0 || ef < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(ef, 2) < 0 ||
            chdir(g_dir) != 0)
            _exit(127);
        if (gp_env)
            setenv("CUTOVER_GNUPLOT", gp_env, 1);
        else
            unsetenv("CUTOVER_GNUPLOT");
        const char *argv[32];
        int k = 0;
        argv[k++] = binabs;
        for (int i = 0; args[i] && k < 31; i++)
            argv[k++] = args[i];
        argv[k] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    cr_assert_gt(p, 0);
    int st;
    cr_assert_eq(waitpid(p, &st, 0), p);
    FILE *f = fopen(errpath, "r");
    g_err[0] = '\0';
    if (f) {
        size_t n = fread(g_err, 1, sizeof g_err - 1, f);
        g_err[n] = '\0';
        fclose(f);
    }
    unlink(errpath);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* No file whose name starts with "pwned" in g_dir. */
static void assert_nothing_ran(const char *what)
{
    DIR *dp = opendir(g_dir);
    cr_assert_not_null(dp);
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        cr_assert(strncmp(e->d_name, "pwned", 5) != 0, "%s: a command ran and made %s", what,
                  e->d_name);
    closedir(dp);
}

/* name (relative to g_dir) is a PNG. */
static void assert_png(const char *name)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "the plot is at exactly '%s'", name);
    unsigned char sig[4] = {0};
    size_t n = fread(sig, 1, 4, f);
    fclose(f);
    cr_assert(n == 4 && sig[0] == 0x89 && sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G',
              "'%s' is a PNG", name);
    unlink(p);
}

static const char *const hostile[] = {
    "it's.png",
    "say \"hi\".png",
    "`touch pwned-bq`.png",
    "x\"`touch pwned-bq2`\".png",
    "x'; system(\"touch pwned-sys\"); print '.png",
    "x\"; system(\"touch pwned-sys2\"); print \".png",
    "x'\nsystem(\"touch pwned-nl\")\n'.png",
};
#define N_HOSTILE (sizeof hostile / sizeof hostile[0])

Test(gnuplot, tune_plot_hostile_paths_written_as_named)
{
    need_gnuplot();
    for (size_t i = 0; i < N_HOSTILE; i++) {
        const char *args[] = {"tune", "--mem", "8GiB", "--dirty", "uniform:wss=1GiB,rate=50000",
                              "--plot", hostile[i], NULL};
        int rc = run(args, NULL);
        cr_assert_eq(rc, 0, "'%s': exit %d: %s", hostile[i], rc, g_err);
        assert_nothing_ran(hostile[i]);
        assert_png(hostile[i]);
    }
}

Test(gnuplot, simulate_plots_hostile_paths_written_as_named)
{
    need_gnuplot();
    char ex[4400];
    snprintf(ex, sizeof ex, "%s/traces/example-cluster.json", g_cwd);
    for (size_t i = 0; i < N_HOSTILE; i++) {
        char stun[600];
        snprintf(stun, sizeof stun, "stun-%s", hostile[i]);
        const char *args[] = {"simulate", ex, "--runs", "2", "--plot-gantt", hostile[i],
                              "--plot-stun", stun, NULL};
        int rc = run(args, NULL);
        cr_assert_eq(rc, 0, "'%s': exit %d: %s", hostile[i], rc, g_err);
        assert_nothing_ran(hostile[i]);
        assert_png(hostile[i]);
        assert_png(stun);
    }
}

/* Replace every JSON string equal to from by to, in place. */
static void rename_all(json_t *j, const char *from, const char *to)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), from) == 0)
                json_object_set_new(j, k, json_string(to));
            else
                rename_all(v, from, to);
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            json_t *v = json_array_get(j, i);
            if (json_is_string(v) && strcmp(json_string_value(v), from) == 0)
                json_array_set_new(j, i, json_string(to));
            else
                rename_all(v, from, to);
        }
    }
}

/* Host names from a cluster file reach the Gantt chart's labels: quoted,
 * never run. */
Test(gnuplot, simulate_hostile_host_names_not_run)
{
    need_gnuplot();
    char ex[4400], bad[128];
    snprintf(ex, sizeof ex, "%s/traces/example-cluster.json", g_cwd);
    json_error_t je;
    json_t *c = json_load_file(ex, 0, &je);
    cr_assert_not_null(c, "%s", je.text);
    rename_all(c, "m_1", "`touch pwned-host`");
    rename_all(c, "m_1528", "h'; system('touch pwned-host2'); print '");
    rename_all(c, "m_2032", "h\"`touch pwned-host3`\"");
    snprintf(bad, sizeof bad, "%s/cluster.json", g_dir);
    cr_assert_eq(json_dump_file(c, bad, 0), 0);
    json_decref(c);
    const char *args[] = {"simulate", bad, "--runs", "1", "--plot-gantt", "g.png", NULL};
    int rc = run(args, NULL);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, g_err);
    assert_nothing_ran("host names");
    assert_png("g.png");
}

/* CUTOVER_GNUPLOT is a program path taken whole, never split by a shell: a
 * path with a space works, one with a command in it is just not found. */
Test(gnuplot, cutover_gnuplot_env_is_one_program)
{
    need_gnuplot();
    const char *real = access("/usr/bin/gnuplot", X_OK) == 0 ? "/usr/bin/gnuplot"
                                                             : "/usr/local/bin/gnuplot";
    char spaced[160];
    snprintf(spaced, sizeof spaced, "%s/my gnuplot", g_dir);
    cr_assert_eq(symlink(real, spaced), 0);
    const char *args[] = {"tune", "--mem", "8GiB", "--plot", "t.png", NULL};
    int rc = run(args, spaced);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, g_err);
    assert_png("t.png");
    unlink(spaced);
    char evil[300];
    snprintf(evil, sizeof evil, "%s; touch pwned-env", real);
    rc = run(args, evil);
    cr_assert_eq(rc, 69, "exit %d: %s", rc, g_err);
    cr_assert(strstr(g_err, "not an executable") != NULL, "%s", g_err);
    snprintf(evil, sizeof evil, "$(touch pwned-env2)");
    rc = run(args, evil);
    cr_assert_eq(rc, 69, "exit %d: %s", rc, g_err);
    assert_nothing_ran("CUTOVER_GNUPLOT");
}
