#include "core/inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/out.h"

sft_input *sft_inputs_new(char *const *paths, size_t npaths, size_t *n)
{
    size_t count = npaths ? npaths : 1;
    sft_input *in = calloc(count, sizeof *in);
    if (!in) return NULL;
    for (size_t i = 0; i < count; i++) {
        const char *p = npaths ? paths[i] : NULL;
        int is_stdin = !p || strcmp(p, "-") == 0;
        in[i].path = is_stdin ? NULL : p;
        in[i].name = is_stdin ? "<stdin>" : p;
        in[i].spill_fd = -1;
    }
    *n = count;
    return in;
}

void sft_inputs_free(sft_input *in, size_t n)
{
    if (!in) return;
    for (size_t i = 0; i < n; i++)
        if (in[i].spill_fd >= 0) close(in[i].spill_fd);
    free(in);
}



int sft_input_open(const sft_input *in, size_t max_line, jsonl_reader **r)
{
    int rc;
    if (in->spill_fd >= 0) {
        if (lseek(in->spill_fd, 0, SEEK_SET) != 0) {
            sft_error("%s: cannot rewind temporary copy: %s", in->name, strerror(errno));
            return SFT_EX_IOERR;
        }
        rc = jsonl_open_fd(r, in->spill_fd, 0, in->name, max_line);
    } else {
        rc = jsonl_open(r, in->path, max_line);
    }
    if (rc == 0) return 0;
    if (rc == ENOMEM) {
        sft_error("out of memory");
        return SFT_EX_SOFTWARE;
    }
    sft_error("%s: cannot open: %s", in->name, strerror(rc));
    return SFT_EX_NOINPUT;
}

int sft_temp_fd(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    size_t n = strlen(dir);
    char *tmpl = malloc(n + sizeof "/sftkit.XXXXXX");
    if (!tmpl) {
        sft_error("out of memory");
        return -ENOMEM;
    }
    memcpy(tmpl, dir, n);
    memcpy(tmpl + n, "/sftkit.XXXXXX", sizeof "/sftkit.XXXXXX");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        sft_error("cannot create a temporary file in '%s' (TMPDIR): %s", dir, strerror(errno));
        free(tmpl);
        return -1;
    }
    unlink(tmpl);
    free(tmpl);
    return fd;
}

/* Copies the input in to an unlinked file in $TMPDIR. */
int sft_input_spill(sft_input *in)
{
    struct stat st;
    if (in->path && stat(in->path, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    int fd = sft_temp_fd();
    if (fd < 0) return fd == -ENOMEM ? SFT_EX_SOFTWARE : SFT_EX_CANTCREAT;

    int src = 0;
    if (in->path && (src = open(in->path, O_RDONLY | O_CLOEXEC)) < 0) {
        sft_error("%s: cannot open: %s", in->name, strerror(errno));
        close(fd);
        return SFT_EX_NOINPUT;
    }
    sft_out *o = sft_out_fd(fd, "temporary copy of input");
    char *chunk = malloc(1 << 16);
    int status = 0;
    if (!o || !chunk) {
        sft_error("out of memory");
        status = SFT_EX_SOFTWARE;
    }
    while (!status) {
        ssize_t got = read(src, chunk, 1 << 16);
        if (got == 0) break;
        if (got < 0) {
            if (errno == EINTR) continue;
            sft_error("%s: read error: %s", in->name, strerror(errno));
            status = SFT_EX_IOERR;
            break;
        }
        sft_out_write(o, chunk, (size_t)got);
        if (sft_out_error(o)) break;
    }
    free(chunk);
    if (o) {
        int err = sft_out_close(o, 1);
        if (err && !status) status = sft_write_error("temporary copy of input", err);
    }
    if (in->path) close(src);
    if (status) {
        close(fd);
        return status;
    }
    in->spill_fd = fd;
    return 0;
}

/* Checks up front that every named input can be opened, so that a missing
 * file stops the run before anything is written. */
int sft_inputs_check(const sft_input *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!in[i].path) continue;
        int fd = open(in[i].path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            sft_error("%s: cannot open: %s", in[i].name, strerror(errno));
            return SFT_EX_NOINPUT;
        }
        struct stat st;
        int dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        close(fd);
        if (dir) {
            sft_error("%s: cannot open: %s", in[i].name, strerror(EISDIR));
            return SFT_EX_NOINPUT;
        }
    }
    return 0;
}

static int read_error(const jsonl_reader *r, const jsonl_error *err)
{
    sft_error("%s: %s", jsonl_name(r), err->reason);
    return SFT_EX_IOERR;
}

/* Reads every input in turn and hands each line to fn; stops at the first
 * nonzero status, which it returns. Read errors end the run (exit 74). */
int sft_each_record(sft_run *run, const sft_input *inputs, size_t ninputs, sft_record_fn fn, void *ctx)
{
    uint64_t bytes_done = 0, lines = 0;
    int status = 0;
    for (size_t i = 0; i < ninputs && !status; i++) {
        jsonl_reader *r;
        if ((status = sft_input_open(&inputs[i], run->max_line, &r))) break;
        jsonl_record rec;
        jsonl_error err;
        int kind;
        while (!status && (kind = jsonl_next(r, &rec, &err)) != JSONL_EOF) {
            if (kind == JSONL_IOERR) {
                status = read_error(r, &err);
                break;
            }
            status = fn(ctx, run, r, kind, &rec, &err);
            if ((++lines & 0xFF) == 0) sft_run_progress(run, bytes_done + jsonl_bytes_read(r), lines);
        }
        bytes_done += jsonl_bytes_read(r);
        jsonl_close(r);
    }
    return status;
}

