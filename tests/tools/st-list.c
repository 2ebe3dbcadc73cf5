/* Lists the tensors of a safetensors file as lib/nn/safetensors.c reads
 * them, one per line: NAME DTYPE [d0,d1,...] NBYTES. For the conformance
 * test on real files (tests/conformance/peft.sh). Exit 65 with the reason
 * when the file is refused. */
#include <stdio.h>

#include "core/cli.h"
#include "nn/safetensors.h"

int main(int argc, char **argv)
{
    sft_init(argv);
    if (argc != 2) return sft_usage_error("usage: st-list FILE.safetensors");
    char err[600];
    sft_st *st = sft_st_open(argv[1], err, sizeof err);
    if (!st) {
        sft_error("%s", err);
        return SFT_EX_DATAERR;
    }
    for (size_t i = 0; i < sft_st_count(st); i++) {
        const sft_st_tensor *t = sft_st_at(st, i);
        printf("%s %s [", t->name, sft_st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
        printf("] %zu\n", t->nbytes);
    }
    sft_st_close(st);
    return fclose(stdout) ? SFT_EX_IOERR : 0;
}
