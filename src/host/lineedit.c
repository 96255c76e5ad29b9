/*
 * lineedit.c: reading REPL lines from a terminal with libedit (BSD licence):
 * emacs key bindings, history kept in a file, TAB completion and Ctrl-C.
 *
 * Two libedit hooks make Ctrl-C behave:
 *   - our own read function (EL_GETCFN) sees the EINTR that a SIGINT gives
 *     read(), and turns it into the character ^C;
 *   - ^C is bound to "gdlua-cancel", which marks the line as abandoned and
 *     ends it, so the REPL shows a fresh prompt and forgets a pending chunk.
 * The terminal's own ^C (when ISIG is off) reaches the same function.  From
 * lineedit_open to lineedit_close SIGINT only sets a flag, so a Ctrl-C that
 * lands between two commands cannot kill the REPL; while Lua code runs,
 * host_docall (call.c) installs its interrupting handler over this one.
 *
 * History is one libedit history file.  A file that cannot be read or
 * written is reported once; the REPL goes on without saving to it.  A file
 * that exists but is not libedit's format is never overwritten.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <histedit.h>

#include "host.h"

enum { HISTORY_SIZE = 1000 };

/* libedit's history files start with this line. */
static const char history_cookie[] = "_HiStOrY_V2_";

struct lineedit {
    EditLine *el;
    History *history;
    HistEvent event;
    char *history_path;         /* NULL: no history file */
    int history_saving;         /* 0 once the file proved unusable */
    int history_reported;       /* a problem with the file was reported */
    char *prompt;
    int cancelled;              /* the current line was abandoned with ^C */
    lineedit_complete_fn complete;
    void *complete_ud;
    struct sigaction saved_sigint;  /* restored by lineedit_close */
    int sigint_installed;
    char pushback;              /* a byte read together with a Ctrl-C ... */
    int has_pushback;           /* ... which is handled first */
};

/* Set by the signal handlers (SIGWINCH: only while a line is edited). */
static volatile sig_atomic_t got_sigint, got_sigwinch;

static void on_sigint(int sig) { (void)sig; got_sigint = 1; }
static void on_sigwinch(int sig) { (void)sig; got_sigwinch = 1; }

static lineedit *from_editline(EditLine *el)
{
    lineedit *le = NULL;
    el_get(el, EL_CLIENTDATA, &le);
    return le;
}

static char *prompt_of(EditLine *el)
{
    lineedit *le = from_editline(el);
    return le && le->prompt ? le->prompt : (char *)"> ";
}

/* Reads one byte from the terminal: 1, 0 at end of file, -1 on an error,
 * or 2 when Ctrl-C was pressed.  A byte that arrived together with the
 * Ctrl-C (the signal is delivered as read() returns) is kept for the next
 * call, so that what is typed right after Ctrl-C starts the new line. */
static int read_byte(lineedit *le, EditLine *el, char *c)
{
    if (le->has_pushback) {
        le->has_pushback = 0;
        *c = le->pushback;
        return 1;
    }
    for (;;) {
        if (got_sigint)
            return 2;
        if (got_sigwinch) {
            got_sigwinch = 0;
            el_resize(el);
            el_set(el, EL_REFRESH);
        }
        ssize_t r = read(STDIN_FILENO, c, 1);
        if (r == 1 && got_sigint) {
            le->pushback = *c;
            le->has_pushback = 1;
            return 2;
        }
        if (r >= 0)
            return (int)r;
        if (errno != EINTR)
            return -1;
        /* a signal: look at the flags again */
    }
}

/* Reads one (possibly multibyte) character.  Returns 1, 0 at end of file,
 * -1 on a read error (libedit's contract for EL_GETCFN).  Unlike libedit's
 * built-in reader it reacts to the signals: SIGINT becomes ^C, SIGWINCH a
 * resize. */
static int read_char(EditLine *el, wchar_t *wc)
{
    lineedit *le = from_editline(el);
    if (le == NULL)
        return -1;
    char bytes[MB_LEN_MAX];
    size_t n = 0;
    for (;;) {
        int r = read_byte(le, el, &bytes[n]);
        if (r == 2) {
            got_sigint = 0;
            *wc = 3;    /* ^C */
            return 1;
        }
        if (r <= 0) {
            *wc = 0;
            return r;
        }
        n++;
        mbstate_t state;
        memset(&state, 0, sizeof state);
        size_t k = mbrtowc(wc, bytes, n, &state);
        if (k == (size_t)-2 && n < sizeof bytes)
            continue;           /* an incomplete sequence: read on */
        if (k == (size_t)-1 || k == (size_t)-2) {
            n = 0;              /* an invalid sequence: drop it, as libedit does */
            continue;
        }
        return 1;
    }
}

/* ^C: abandon the line.  "^C" is shown after it, and the newline pushed as
 * input ends the line through libedit's own newline command, which leaves
 * the screen tidy. */
static unsigned char cancel_line(EditLine *el, int ch)
{
    (void)ch;
    lineedit *le = from_editline(el);
    if (le)
        le->cancelled = 1;
    const LineInfo *li = el_line(el);
    el_cursor(el, (int)(li->lastchar - li->cursor));
    el_insertstr(el, "^C");
    el_push(el, "\n");
    return CC_REFRESH;
}

/* TAB: ask the REPL (lua/gd/repl.lua) what to insert and what to list. */
static unsigned char complete_word(EditLine *el, int ch)
{
    (void)ch;
    lineedit *le = from_editline(el);
    if (le == NULL || le->complete == NULL)
        return CC_REFRESH_BEEP;
    const LineInfo *li = el_line(el);
    char *insert = NULL, *listing = NULL;
    if (le->complete(le->complete_ud, li->buffer, (size_t)(li->cursor - li->buffer),
                     &insert, &listing) != 0)
        return CC_REFRESH_BEEP;

    unsigned char result = CC_REFRESH_BEEP;
    if (insert != NULL && insert[0] != '\0' && el_insertstr(el, insert) == 0)
        result = CC_REFRESH;
    if (listing != NULL && listing[0] != '\0') {
        /* As libedit's own file completion does: print the list below the
         * line, then have libedit draw the prompt and line again. */
        fputs("\n", stdout);
        fputs(listing, stdout);
        fflush(stdout);
        result = CC_REDISPLAY;
    }
    free(insert);
    free(listing);
    return result;
}

static void history_problem(lineedit *le, const char *fmt, const char *detail)
{
    le->history_saving = 0;
    if (le->history_reported)
        return;
    le->history_reported = 1;
    fflush(stdout);
    fprintf(stderr, "%s: history file %s: ", HOST_PROGNAME, le->history_path);
    fprintf(stderr, fmt, detail);
    fputs("; going on without saving history\n", stderr);
    fflush(stderr);
}

/* Loads the history file.  A missing file is fine (it is created on the
 * first save); an empty one too.  Anything else that is not a libedit
 * history file is reported and left alone. */
static void history_load(lineedit *le)
{
    FILE *f = fopen(le->history_path, "r");
    if (f == NULL) {
        if (errno != ENOENT)
            history_problem(le, "cannot open it (%s)", strerror(errno));
        return;
    }
    char first[sizeof history_cookie + 1];
    errno = 0;
    if (fgets(first, sizeof first, f) == NULL) {
        int err = errno;
        int empty = !ferror(f);
        fclose(f);
        if (!empty)
            history_problem(le, "cannot read it (%s)", strerror(err));
        return;
    }
    fclose(f);
    if (strncmp(first, history_cookie, sizeof history_cookie - 1) != 0) {
        history_problem(le, "%s", "it is not a libedit history file");
        return;
    }
    if (history(le->history, &le->event, H_LOAD, le->history_path) < 0)
        history_problem(le, "%s", "it is damaged and cannot be loaded");
}

lineedit *lineedit_open(const char *history_path, lineedit_complete_fn complete, void *ud)
{
    lineedit *le = calloc(1, sizeof *le);
    if (le == NULL)
        return NULL;
    le->complete = complete;
    le->complete_ud = ud;
    le->el = el_init(HOST_PROGNAME, stdin, stdout, stderr);
    le->history = history_init();
    if (le->el == NULL || le->history == NULL) {
        lineedit_close(le);
        return NULL;
    }
    history(le->history, &le->event, H_SETSIZE, HISTORY_SIZE);
    history(le->history, &le->event, H_SETUNIQUE, 1);

    el_set(le->el, EL_CLIENTDATA, le);
    el_set(le->el, EL_EDITOR, "emacs");
    el_set(le->el, EL_PROMPT, prompt_of);
    el_set(le->el, EL_HIST, history, le->history);
    el_set(le->el, EL_GETCFN, read_char);
    /* The user's ~/.editrc first, so that TAB and ^C below stay ours even
     * if it switches to vi bindings. */
    el_source(le->el, NULL);
    /* el_wset with wide literals: the narrow el_set(EL_ADDFN) converts the
     * names to copies that libedit never frees. */
    el_wset(le->el, EL_ADDFN, L"gdlua-complete", L"Complete the name or file name at the cursor",
            complete_word);
    el_set(le->el, EL_BIND, "^I", "gdlua-complete", NULL);
    el_wset(le->el, EL_ADDFN, L"gdlua-cancel", L"Abandon the line", cancel_line);
    el_set(le->el, EL_BIND, "^C", "gdlua-cancel", NULL);

    if (history_path != NULL && history_path[0] != '\0') {
        le->history_path = strdup(history_path);
        if (le->history_path != NULL) {
            le->history_saving = 1;
            history_load(le);
        }
    }

    /* Ctrl-C between commands (after one ends, before the next prompt) must
     * not kill the REPL: from now on SIGINT only sets a flag, except while
     * Lua code runs, when host_docall installs its own handler.  No
     * SA_RESTART: the signal must interrupt read() in read_char. */
    struct sigaction act;
    memset(&act, 0, sizeof act);
    sigemptyset(&act.sa_mask);
    act.sa_handler = on_sigint;
    le->sigint_installed = sigaction(SIGINT, &act, &le->saved_sigint) == 0;
    return le;
}

char *lineedit_read(lineedit *le, const char *prompt, int *cancelled)
{
    char *copy = strdup(prompt);
    if (copy != NULL) {
        free(le->prompt);
        le->prompt = copy;
    }
    le->cancelled = 0;
    *cancelled = 0;

    /* A Ctrl-C pressed before this prompt was meant for the command that
     * has just ended; it does not cancel the new line. */
    got_sigint = got_sigwinch = 0;
    /* SIGWINCH only while editing, where a resize matters; without
     * SA_RESTART, as SIGINT, so that read() in read_char sees it.  (Left
     * installed, it would interrupt the system calls of Lua code.) */
    struct sigaction act, old_winch;
    memset(&act, 0, sizeof act);
    sigemptyset(&act.sa_mask);
    act.sa_handler = on_sigwinch;
    sigaction(SIGWINCH, &act, &old_winch);

    int count = 0;
    const char *line = el_gets(le->el, &count);

    sigaction(SIGWINCH, &old_winch, NULL);

    if (line == NULL || count <= 0)
        return NULL;                /* Ctrl-D on an empty line, or end of input */
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    char *result = malloc(len + 1);
    if (result == NULL)
        return NULL;
    memcpy(result, line, len);
    result[len] = '\0';
    *cancelled = le->cancelled;
    return result;
}

void lineedit_add_history(lineedit *le, const char *entry)
{
    if (entry == NULL || entry[0] == '\0')
        return;
    history(le->history, &le->event, H_ENTER, entry);
    /* Saved after every entry, so that history survives os.exit() and a
     * second Ctrl-C that kills the process. */
    if (le->history_path != NULL && le->history_saving) {
        errno = 0;
        if (history(le->history, &le->event, H_SAVE, le->history_path) < 0)
            history_problem(le, "cannot write it (%s)",
                            errno ? strerror(errno) : "unknown error");
    }
}

void lineedit_close(lineedit *le)
{
    if (le == NULL)
        return;
    if (le->sigint_installed)
        sigaction(SIGINT, &le->saved_sigint, NULL);
    if (le->el != NULL)
        el_end(le->el);
    if (le->history != NULL)
        history_end(le->history);
    free(le->history_path);
    free(le->prompt);
    free(le);
}
