/* sft-merge: fold a PEFT LoRA adapter into its base model and write the
 * merged model directory. See man/man1/sft-merge.1; the work is in
 * lib/nn/merge.h. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cli.h"
#include "nn/merge.h"

enum {
    OPT_ADAPTER = SFT_OPT_FIRST_TOOL,
    OPT_DTYPE,
    OPT_MAX_SHARD,
    OPT_FORCE,
};

static const struct option long_options[] = {
    {"model", required_argument, NULL, 'm'},
    {"adapter", required_argument, NULL, OPT_ADAPTER},
    {"out", required_argument, NULL, 'o'},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"max-shard-size", required_argument, NULL, OPT_MAX_SHARD},
    {"force", no_argument, NULL, OPT_FORCE},
    {"threads", required_argument, NULL, 't'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs("Usage: sft-merge --model DIR --adapter DIR --out DIR [OPTION]...\n"
          "Fold a PEFT LoRA adapter into its base model: W + scale * (B A) for every\n"
          "adapted layer, computed in 32-bit floats, and write the merged model\n"
          "directory (weights, config.json, tokenizer and generation files).\n"
          "\n"
          "  -m, --model DIR         the base model directory (config.json, *.safetensors)\n"
          "      --adapter DIR       the PEFT LoRA adapter (adapter_config.json,\n"
          "                          adapter_model.safetensors)\n"
          "  -o, --out DIR           the merged model directory to write (not --model)\n"
          "      --dtype TYPE        auto (default: each tensor keeps its dtype), bf16,\n"
          "                          f16 or f32 (every floating-point tensor)\n"
          "      --max-shard-size SIZE  largest .safetensors file (K, M, G: powers of\n"
          "                          1024; KB, MB, GB: of 1000); default: the input's\n"
          "                          shards, else 5GB\n"
          "  -f, --force             replace --out when it exists and is not empty\n"
          "  -t, --threads N         threads (default: all cores)\n"
          "  -v, --verbose           print what was merged and written\n"
          "  -h, --help              show this help and exit\n"
          "  -V, --version           show the version and exit\n",
          f);
}

/* SIZE: digits with K, M, G (powers of 1024) or KB, MB, GB (powers of
 * 1000, as transformers' max_shard_size) */
static int parse_shard_size(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    if (n >= 2 && (s[n - 1] == 'B' || s[n - 1] == 'b') && strchr("KkMmGg", s[n - 2])) {
        char digits[32];
        if (n - 2 == 0 || n - 2 >= sizeof digits) {
            errno = EINVAL;
            return -1;
        }
        memcpy(digits, s, n - 2);
        digits[n - 2] = 0;
        uint64_t mul = strchr("Kk", s[n - 2]) ? 1000 : strchr("Mm", s[n - 2]) ? 1000000 : 1000000000;
        uint64_t v;
        if (sft_parse_u64(digits, 1, UINT64_MAX / mul, &v) != 0) return -1;
        *out = v * mul;
        return 0;
    }
    return sft_parse_size(s, 1, UINT64_MAX, out);
}

/* whether a is b or inside it (both real paths) */
static int inside(const char *a, const char *b)
{
    size_t n = strlen(b);
    return strncmp(a, b, n) == 0 && (a[n] == 0 || a[n] == '/' || (n == 1 && b[0] == '/'));
}

int main(int argc, char **argv)
{
    sft_init(argv);
    const char *model = NULL, *adapter = NULL, *out = NULL;
    nn_merge_opts o = {0};
    int verbose = 0;
    uint64_t threads = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "m:o:ft:vhV", long_options, NULL)) != -1) {
        int rc = sft_standard_option(opt, usage);
        if (rc >= 0) return rc;
        switch (opt) {
        case 'm': model = optarg; break;
        case OPT_ADAPTER: adapter = optarg; break;
        case 'o': out = optarg; break;
        case OPT_DTYPE:
            if (strcmp(optarg, "auto") == 0) o.dtype = NN_MERGE_AUTO;
            else if (strcmp(optarg, "bf16") == 0) o.dtype = NN_MERGE_BF16;
            else if (strcmp(optarg, "f16") == 0) o.dtype = NN_MERGE_F16;
            else if (strcmp(optarg, "f32") == 0) o.dtype = NN_MERGE_F32;
            else return sft_usage_error("invalid value '%s' for --dtype: expected auto, bf16, f16 or f32", optarg);
            break;
        case OPT_MAX_SHARD:
            if (parse_shard_size(optarg, &o.max_shard)) return sft_bad_option_value("max-shard-size", optarg);
            break;
        case 'f':
        case OPT_FORCE: o.force = 1; break;
        case 't':
            if (sft_parse_u64(optarg, 1, 1024, &threads)) return sft_bad_option_value("threads", optarg);
            break;
        case 'v': verbose = 1; break;
        default: return sft_usage_error("unexpected option");
        }
    }
    if (optind < argc) return sft_usage_error("unexpected argument '%s'", argv[optind]);
    if (!model || !adapter || !out) return sft_usage_error("--model, --adapter and --out are required");
    if (!*out) return sft_usage_error("--out is empty");
    /* the output must not be (or hold) the inputs: --force would remove them */
    char rout[PATH_MAX], rin[PATH_MAX];
    if (realpath(out, rout)) {
        const char *ins[2] = {model, adapter}, *names[2] = {"--model", "--adapter"};
        for (int i = 0; i < 2; i++)
            if (realpath(ins[i], rin) && inside(rin, rout))
                return sft_usage_error("--out %s is %s %s or holds it", out, names[i], ins[i]);
    }
    o.model_dir = model;
    o.adapter_dir = adapter;
    o.out_dir = out;
    o.threads = (int)threads;
    nn_merge_stats st;
    char err[1024];
    enum nn_merge_status s = nn_merge(&o, &st, err, sizeof err);
    if (s != NN_MERGE_OK) {
        sft_error("%s", err);
        switch (s) {
        case NN_MERGE_EDATA: return SFT_EX_DATAERR;
        case NN_MERGE_ENOENT: return SFT_EX_NOINPUT;
        case NN_MERGE_ECREATE: return SFT_EX_CANTCREAT;
        case NN_MERGE_EIO: return SFT_EX_IOERR;
        default: return SFT_EX_SOFTWARE;
        }
    }
    if (verbose) {
        double mb = (double)st.bytes / 1e6;
        sft_error("merged %zu LoRA pairs into %zu tensors of %zu; %.*f MB written in %zu file%s to %s", st.pairs,
                  st.merged, st.tensors, mb < 10 ? 1 : 0, mb, st.files, st.files == 1 ? "" : "s", out);
    }
    return SFT_EX_OK;
}
