/* Writes the logits the model core computes for a sequence of token ids,
 * for the conformance test against the PyTorch reference
 * (tests/conformance/nn-ref.sh):
 *
 *   nn-logits --model DIR [--adapter DIR] --ids 1,2,3 --out FILE [--chunk N] [-t N]
 *
 * FILE gets float32 little-endian [T][vocab]. --chunk N runs the sequence
 * N tokens at a time through the KV cache (default: all at once), so that
 * prefill and cached decoding are both checked. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "nn/model.h"

static int parse_ids(const char *s, int32_t **ids, int64_t *n)
{
    size_t cap = 64;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    while (*ids && *s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) return -1;
        if ((size_t)*n == cap) {
            int32_t *p = realloc(*ids, (cap *= 2) * sizeof *p);
            if (!p) return -1;
            *ids = p;
        }
        (*ids)[(*n)++] = (int32_t)v;
        s = *end ? end + 1 : end;
    }
    return *ids && *n ? 0 : -1;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"adapter", required_argument, NULL, 'a'},
                                         {"ids", required_argument, NULL, 'i'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"chunk", required_argument, NULL, 'c'},
                                         {"threads", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL, *adapter = NULL, *ids_arg = NULL, *out_path = NULL;
    uint64_t chunk = 0, threads = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': model = optarg; break;
        case 'a': adapter = optarg; break;
        case 'i': ids_arg = optarg; break;
        case 'o': out_path = optarg; break;
        case 'c':
            if (sft_parse_u64(optarg, 1, 1 << 20, &chunk)) return sft_bad_option_value("chunk", optarg);
            break;
        case 't':
            if (sft_parse_u64(optarg, 0, 1024, &threads)) return sft_bad_option_value("threads", optarg);
            break;
        default: return SFT_EX_USAGE;
        }
    }
    if (!model || !ids_arg || !out_path) return sft_usage_error("--model, --ids and --out are required");
    int32_t *ids = NULL;
    int64_t T;
    if (parse_ids(ids_arg, &ids, &T)) return sft_usage_error("bad --ids");
    char err[1024];
    nn_model *m = nn_model_load(model, err, sizeof err);
    if (!m) {
        sft_error("%s", err);
        return SFT_EX_DATAERR;
    }
    if (adapter && nn_model_add_adapter(m, adapter, err, sizeof err)) {
        sft_error("%s", err);
        return SFT_EX_DATAERR;
    }
    int64_t V = nn_model_config(m)->vocab_size, C = chunk ? (int64_t)chunk : T;
    nn_pool *pool = nn_pool_new((int)threads);
    nn_state *s = nn_state_new(m, T, C);
    float *logits = malloc((size_t)(T * V) * sizeof *logits);
    FILE *f = fopen(out_path, "wb");
    if (!pool || !s || !logits || !f) {
        sft_error("setup failed: %s", strerror(errno));
        return SFT_EX_SOFTWARE;
    }
    for (int64_t t = 0; t < T; t += C) {
        int64_t n = T - t < C ? T - t : C;
        if (nn_forward(m, s, pool, ids + t, n, err, sizeof err)) {
            sft_error("%s", err);
            return SFT_EX_DATAERR;
        }
        nn_logits(m, s, pool, 0, n, logits + t * V);
    }
    if (fwrite(logits, sizeof *logits, (size_t)(T * V), f) != (size_t)(T * V) || fclose(f)) {
        sft_error("%s: write failed", out_path);
        return SFT_EX_IOERR;
    }
    free(logits);
    free(ids);
    nn_state_free(s);
    nn_pool_free(pool);
    nn_model_free(m);
    return 0;
}
