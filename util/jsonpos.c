/* util/jsonpos.c: a JSON scanner that tracks the path of every value. */
#include "util/jsonpos.h"

#include <stdio.h>
#include <string.h>

struct scan {
    const char *s;
    size_t len, i;
    int line;
    const char *target;
    int found;
    char path[512];
};

static void skip_ws(struct scan *c)
{
    while (c->i < c->len) {
        char ch = c->s[c->i];
        if (ch == '\n')
            c->line++;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
            break;
        c->i++;
    }
}

/* Scan a string; copy up to cap-1 bytes of its raw content into out. */
static int scan_string(struct scan *c, char *out, size_t cap)
{
    size_t n = 0;
    if (c->i >= c->len || c->s[c->i] != '"')
        return -1;
    c->i++;
    while (c->i < c->len && c->s[c->i] != '"') {
        if (c->s[c->i] == '\\')
            c->i++;
        else if (out && n + 1 < cap)
            out[n++] = c->s[c->i];
        if (c->i < c->len && c->s[c->i] == '\n')
            c->line++;
        c->i++;
    }
    if (out)
        out[n] = '\0';
    if (c->i >= c->len)
        return -1;
    c->i++;
    return 0;
}

static int scan_value(struct scan *c, int depth);

static int at_target(struct scan *c)
{
    if (!c->found && strcmp(c->path, c->target) == 0) {
        c->found = c->line;
        return 1;
    }
    return 0;
}

static int scan_value(struct scan *c, int depth)
{
    if (depth > 200)
        return -1;
    skip_ws(c);
    if (c->i >= c->len)
        return -1;
    at_target(c);
    size_t plen = strlen(c->path);
    char ch = c->s[c->i];
    if (ch == '{') {
        c->i++;
        skip_ws(c);
        if (c->i < c->len && c->s[c->i] == '}') {
            c->i++;
            return 0;
        }
        for (;;) {
            char key[256];
            skip_ws(c);
            if (scan_string(c, key, sizeof key) < 0)
                return -1;
            skip_ws(c);
            if (c->i >= c->len || c->s[c->i] != ':')
                return -1;
            c->i++;
            snprintf(c->path + plen, sizeof c->path - plen, "%s%s", plen ? "." : "", key);
            if (scan_value(c, depth + 1) < 0)
                return -1;
            c->path[plen] = '\0';
            skip_ws(c);
            if (c->i < c->len && c->s[c->i] == ',') {
                c->i++;
                continue;
            }
            if (c->i < c->len && c->s[c->i] == '}') {
                c->i++;
                return 0;
            }
            return -1;
        }
    }
    if (ch == '[') {
        c->i++;
        skip_ws(c);
        if (c->i < c->len && c->s[c->i] == ']') {
            c->i++;
            return 0;
        }
        for (int idx = 0;; idx++) {
            snprintf(c->path + plen, sizeof c->path - plen, "[%d]", idx);
            if (scan_value(c, depth + 1) < 0)
                return -1;
            c->path[plen] = '\0';
            skip_ws(c);
            if (c->i < c->len && c->s[c->i] == ',') {
                c->i++;
                continue;
            }
            if (c->i < c->len && c->s[c->i] == ']') {
                c->i++;
                return 0;
            }
            return -1;
        }
    }
    if (ch == '"')
        return scan_string(c, NULL, 0);
    /* number, true, false, null */
    while (c->i < c->len && strchr(",]} \t\r\n", c->s[c->i]) == NULL)
        c->i++;
    return 0;
}

int co_json_line_of(const char *text, size_t len, const char *path)
{
    struct scan c = {.s = text, .len = len, .i = 0, .line = 1, .target = path, .found = 0};
    c.path[0] = '\0';
    scan_value(&c, 0);
    return c.found;
}
