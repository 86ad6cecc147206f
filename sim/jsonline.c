/* sim/jsonline.c: find the line of a value by its JSON path.
 *
 * jansson keeps no positions for values, so a semantic error ("hosts[3].
 * nic_rate is not a rate") would name no line. This scanner walks the text
 * once more, only when an error is reported, tracking the path of each
 * value. It is bounded (depth, path length) and never reads past len. */
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"

#define MAXDEPTH 128

struct scan {
    const char *t;
    size_t n, i;
    int line;
    const char *want;
    int found;
    char path[512];
};

static void ws(struct scan *s)
{
    while (s->i < s->n) {
        char c = s->t[s->i];
        if (c == '\n')
            s->line++;
        else if (c != ' ' && c != '\t' && c != '\r')
            break;
        s->i++;
    }
}

/* Read a string at s->i (on the quote) into buf (escapes kept raw). */
static int str(struct scan *s, char *buf, size_t cap)
{
    size_t k = 0;
    if (s->i >= s->n || s->t[s->i] != '"')
        return -1;
    s->i++;
    while (s->i < s->n && s->t[s->i] != '"') {
        char c = s->t[s->i];
        if (c == '\\' && s->i + 1 < s->n) {
            if (k + 1 < cap)
                buf[k++] = c;
            s->i++;
            c = s->t[s->i];
        }
        if (c == '\n')
            s->line++;
        if (k + 1 < cap)
            buf[k++] = c;
        s->i++;
    }
    if (s->i >= s->n)
        return -1;
    s->i++;
    buf[k] = '\0';
    return 0;
}

static int value(struct scan *s, size_t plen, int depth)
{
    ws(s);
    if (s->i >= s->n || depth > MAXDEPTH)
        return -1;
    s->path[plen] = '\0';
    if (!s->found && strcmp(s->path, s->want) == 0) {
        s->found = s->line;
        return 1; /* stop: found */
    }
    char c = s->t[s->i];
    if (c == '{') {
        s->i++;
        for (;;) {
            ws(s);
            if (s->i < s->n && s->t[s->i] == '}') {
                s->i++;
                return 0;
            }
            char key[256];
            if (str(s, key, sizeof key) != 0)
                return -1;
            ws(s);
            if (s->i >= s->n || s->t[s->i] != ':')
                return -1;
            s->i++;
            int w = snprintf(s->path + plen, sizeof s->path - plen, "%s%s", plen ? "." : "", key);
            if (w < 0 || (size_t)w >= sizeof s->path - plen)
                return -1;
            int rc = value(s, plen + (size_t)w, depth + 1);
            if (rc != 0)
                return rc;
            ws(s);
            if (s->i < s->n && s->t[s->i] == ',') {
                s->i++;
                continue;
            }
            if (s->i < s->n && s->t[s->i] == '}') {
                s->i++;
                return 0;
            }
            return -1;
        }
    }
    if (c == '[') {
        s->i++;
        for (int idx = 0;; idx++) {
            ws(s);
            if (s->i < s->n && s->t[s->i] == ']') {
                s->i++;
                return 0;
            }
            int w = snprintf(s->path + plen, sizeof s->path - plen, "[%d]", idx);
            if (w < 0 || (size_t)w >= sizeof s->path - plen)
                return -1;
            int rc = value(s, plen + (size_t)w, depth + 1);
            if (rc != 0)
                return rc;
            ws(s);
            if (s->i < s->n && s->t[s->i] == ',') {
                s->i++;
                continue;
            }
            if (s->i < s->n && s->t[s->i] == ']') {
                s->i++;
                return 0;
            }
            return -1;
        }
    }
    if (c == '"') {
        char tmp[8];
        return str(s, tmp, sizeof tmp);
    }
    /* number, true, false, null */
    while (s->i < s->n && strchr(",]} \t\r\n", s->t[s->i]) == NULL)
        s->i++;
    return 0;
}

int co_sim_json_line(const char *text, size_t len, const char *path)
{
    struct scan s = {.t = text, .n = len, .i = 0, .line = 1, .want = path, .found = 0};
    s.path[0] = '\0';
    value(&s, 0, 0);
    return s.found;
}
