/* The inputs of a program that reads JSONL: named files or stdin, read
 * once or, for programs that need two passes, twice (stdin and pipes are
 * then first copied to an unlinked temporary file).
 *
 * Like the rest of core/cli, these print their diagnostics to stderr and
 * return an exit code for main(); nothing writes to stdout or exits. */
#ifndef SFT_INPUTS_H
#define SFT_INPUTS_H
#include <stddef.h>

#include "core/cli.h"
#include "core/jsonl.h"

typedef struct {
    const char *path; /* NULL for stdin */
    const char *name; /* for diagnostics */
    int spill_fd;     /* -1 unless spilled */
} sft_input;

/* Fills in[0..n) from the program's FILE arguments (none: stdin; "-":
 * stdin). The caller frees the array after sft_inputs_close(). Returns
 * NULL when out of memory. */
sft_input *sft_inputs_new(char *const *paths, size_t npaths, size_t *n);
/* Closes the temporary copies and frees the array. */
void sft_inputs_free(sft_input *in, size_t n);

/* Checks up front that every named input can be opened (and is not a
 * directory), so that a missing file stops the run before anything is
 * written. Returns 0 or SFT_EX_NOINPUT (printed). */
int sft_inputs_check(const sft_input *in, size_t n);

/* An unlinked temporary file in $TMPDIR (default /tmp), open for reading
 * and writing. Returns its descriptor, or -1 (printed; exit 73) or -ENOMEM
 * (printed; exit 70). */
int sft_temp_fd(void);

/* Makes in readable twice: copies stdin or a pipe to an unlinked file in
 * $TMPDIR (regular files are left alone). Returns 0 or an exit code
 * (printed). */
int sft_input_spill(sft_input *in);

/* Opens a reader on in (from the start of its copy when spilled). Returns
 * 0 or an exit code (printed). */
int sft_input_open(const sft_input *in, size_t max_line, jsonl_reader **r);

/* Called for each line of the inputs with what the reader made of it
 * (JSONL_RECORD or JSONL_BAD); returns 0 to go on or an exit status. */
typedef int (*sft_record_fn)(void *ctx, sft_run *run, const jsonl_reader *r, int kind,
                             const jsonl_record *rec, const jsonl_error *err);

/* Reads every input in turn and hands each line to fn; stops at the first
 * nonzero status, which it returns. Read errors end the run (exit 74).
 * Progress is reported with sft_run_progress(). */
int sft_each_record(sft_run *run, const sft_input *inputs, size_t ninputs, sft_record_fn fn, void *ctx);

#endif
