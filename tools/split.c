/* split: split JSONL records into named parts (train/val/test). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cli.h"
#include "core/json.h"
#include "split/split.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: %s --ratio LIST (--out PREFIX | -o NAME=FILE...) [OPTION]... [FILE]...\n",
            sft_prog);
    fputs(
          "Split JSONL records into named parts (train/val/test) for fine-tuning.\n"
          "\n"
          "  -r, --ratio LIST        part weights, e.g. 0.9,0.1 or 8,1,1 (normalised by their sum)\n"
          "  -n, --names LIST        part names (default train,val,test for up to 3 parts)\n"
          "      --out PREFIX        write part NAME to PREFIX.NAME.jsonl\n"
          "  -o, --output NAME=FILE  write part NAME to FILE ('-' = stdout, one part at most)\n"
          "  -k, --key FIELD         group key: a dotted path (a.b.0.c); records with equal\n"
          "                          values land in the same part (default: the whole line)\n"
          "      --stratify FIELD    split each value of FIELD in the ratio on its own\n"
          "                          (implies --exact)\n"
          "  -s, --seed N            seed of the hash and of the permutation (default 0)\n"
          "      --exact             exact part sizes from a seeded permutation of the keys\n"
          SFT_COMMON_OPTIONS_HELP
          "\n"
          "With no FILE, or when FILE is -, read standard input.\n"
          "Exit status: 0 ok, 1 some records rejected (--on-error=skip), 2 usage error,\n"
          "65 bad input, 66 input not found, 73 output not created, 74 I/O error.\n",
          f);
}

enum { OPT_OUT = SFT_OPT_FIRST_TOOL, OPT_STRATIFY, OPT_EXACT };

static const struct option long_options[] = {
    {"ratio", required_argument, NULL, 'r'},
    {"names", required_argument, NULL, 'n'},
    {"out", required_argument, NULL, OPT_OUT},
    {"output", required_argument, NULL, 'o'},
    {"key", required_argument, NULL, 'k'},
    {"stratify", required_argument, NULL, OPT_STRATIFY},
    {"seed", required_argument, NULL, 's'},
    {"exact", no_argument, NULL, OPT_EXACT},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* Splits a comma list in place into items; returns their number, or -1
 * when there are more than max or one is empty. */
static int split_list(char *s, char **item, int max)
{
    int n = 0;
    for (char *p = s;; p++) {
        char *comma = strchr(p, ',');
        if (n == max) return -1;
        item[n++] = p;
        if (!comma) break;
        *comma = '\0';
        p = comma;
    }
    for (int i = 0; i < n; i++)
        if (!*item[i]) return -1;
    return n;
}

typedef struct {
    char *name;
    const char *file;
} named_output;

/* Sets file[i] for every part: its -o FILE, else PREFIX.NAME.jsonl (the
 * allocated names go to owned[], for the caller to free). Returns 0 or the
 * exit status after printing why. */
static int resolve_files(const split_config *cfg, const named_output *outputs, int noutputs,
                         const char *prefix, const char **file, char **owned)
{
    int n = (int)cfg->nparts;
    for (int k = 0; k < noutputs; k++) {
        int i = 0;
        while (i < n && strcmp(cfg->name[i], outputs[k].name) != 0) i++;
        if (i == n)
            return sft_usage_error("--output names '%s', which is not a part name", outputs[k].name);
        if (file[i]) return sft_usage_error("part '%s' has two --output options", outputs[k].name);
        file[i] = outputs[k].file;
    }
    int to_stdout = 0;
    for (int i = 0; i < n; i++) {
        if (!file[i]) {
            if (!prefix)
                return sft_usage_error("no output for part '%s' (use --out PREFIX or -o NAME=FILE)",
                                       cfg->name[i]);
            size_t len = strlen(prefix) + strlen(cfg->name[i]) + sizeof "..jsonl";
            if (!(owned[i] = malloc(len))) {
                sft_error("out of memory");
                return SFT_EX_SOFTWARE;
            }
            snprintf(owned[i], len, "%s.%s.jsonl", prefix, cfg->name[i]);
            file[i] = owned[i];
        }
        if (strcmp(file[i], "-") == 0 && to_stdout++)
            return sft_usage_error("only one part can go to standard output");
        for (int j = 0; j < i; j++)
            if (sft_same_file(file[i], file[j]))
                return sft_usage_error("parts '%s' and '%s' would both be written to '%s'",
                                       cfg->name[j], cfg->name[i], file[i]);
    }
    return 0;
}

/* Refuses to write over an input or to put rejects into an output: each
 * would lose records silently. */
static int check_overlaps(int nparts, const char **file, const char *rejects, char **inputs,
                          int ninputs)
{
    char *why = NULL;
    if (rejects && asprintf(&why, "%s.why", rejects) < 0) why = NULL;
    const char *extra[2] = {rejects, why};
    int status = 0;
    for (int i = 0; i < nparts + 2 && !status; i++) {
        const char *out = i < nparts ? file[i] : extra[i - nparts];
        if (!out || strcmp(out, "-") == 0) continue;
        for (int k = 0; k < ninputs && !status; k++)
            if (sft_same_file(out, inputs[k]))
                status = sft_usage_error("output '%s' is also an input", out);
        if (i >= nparts)
            for (int j = 0; j < nparts && !status; j++)
                if (sft_same_file(out, file[j]))
                    status = sft_usage_error("--rejects '%s' is also a part's output", out);
    }
    free(why);
    return status;
}

/* Writes the parts: opens them, splits, commits them on success. */
static int run_split(const split_config *cfg, sft_run *run, const char *const *inputs,
                     size_t ninputs, const char **file)
{
    int n = (int)cfg->nparts;
    sft_out *outs[SPLIT_MAX_PARTS] = {0};
    uint64_t counts[SPLIT_MAX_PARTS] = {0};
    int status = sft_run_start(run);
    for (int i = 0; i < n && !status; i++) {
        if (!(outs[i] = sft_out_open(file[i]))) {
            sft_error("%s: cannot create: %s", file[i], strerror(errno));
            status = SFT_EX_CANTCREAT;
        }
    }
    if (!status) status = split_run(cfg, run, inputs, ninputs, outs, counts);
    for (int i = 0; i < n; i++) {
        if (!outs[i]) continue;
        int err = sft_out_close(outs[i], status == 0);
        if (err && !status) status = sft_write_error(strcmp(file[i], "-") ? file[i] : "<stdout>", err);
    }
    if (run->verbose && !status) {
        for (int i = 0; i < n; i++)
            sft_error("%s: %" PRIu64 " records (%.2f%%) -> %s", cfg->name[i], counts[i],
                      run->out ? 100.0 * (double)counts[i] / (double)run->out : 0.0,
                      strcmp(file[i], "-") ? file[i] : "<stdout>");
    }
    return sft_run_finish(run, status);
}

static const char *const default_names[] = {"train", "val", "test"};

/* Whether the -o options name exactly the first n default parts, in any
 * order: then the weights follow train,val,test, not the -o order. */
static int defaults_named(const named_output *outputs, int noutputs, int n)
{
    for (int k = 0; k < noutputs; k++) {
        int i = 0;
        while (i < n && strcmp(outputs[k].name, default_names[i]) != 0) i++;
        if (i == n) return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    split_config cfg = {0};
    char *ratio_arg = NULL, *names_arg = NULL;
    const char *prefix = NULL;
    named_output outputs[SPLIT_MAX_PARTS];
    int noutputs = 0;
    json_path key_path, strat_path;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "r:n:o:k:s:vhV", long_options, NULL)) != -1) {
        switch (opt) {
        case 'r': ratio_arg = optarg; break;
        case 'n': names_arg = optarg; break;
        case OPT_OUT: prefix = optarg; break;
        case 'o': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                return sft_usage_error("invalid value '%s' for --output: expected NAME=FILE", optarg);
            if (noutputs == SPLIT_MAX_PARTS) return sft_usage_error("too many --output options");
            *eq = '\0';
            outputs[noutputs++] = (named_output){optarg, eq + 1};
            break;
        }
        case 'k': cfg.key_spec = optarg; break;
        case OPT_STRATIFY: cfg.stratify_spec = optarg; break;
        case 's':
            if (sft_parse_u64(optarg, 0, UINT64_MAX, &cfg.seed) != 0)
                return sft_bad_option_value("seed", optarg);
            break;
        case OPT_EXACT: cfg.exact = 1; break;
        default:
            if ((rc = sft_standard_option(opt, usage)) >= 0) return rc;
            if ((rc = sft_run_option(&run, opt, optarg)) != 0) return rc;
        }
    }

    if (!ratio_arg) return sft_usage_error("--ratio is required");
    char *items[SPLIT_MAX_PARTS];
    int n = split_list(ratio_arg, items, SPLIT_MAX_PARTS);
    if (n < 2) return sft_usage_error("--ratio needs 2 to 64 comma-separated weights");
    cfg.nparts = (size_t)n;
    for (int i = 0; i < n; i++)
        if (split_parse_weight(items[i], &cfg.weight[i]) != 0)
            return sft_usage_error("invalid weight '%s' in --ratio: expected a number above 0 and "
                               "at most 1000000, with at most 9 decimals",
                               items[i]);

    /* Part names: --names, else the -o names when they cover every part,
     * else train,val,test. */
    if (names_arg) {
        char *names[SPLIT_MAX_PARTS];
        if (split_list(names_arg, names, SPLIT_MAX_PARTS) != n)
            return sft_usage_error("--names must give one non-empty name per --ratio weight");
        for (int i = 0; i < n; i++) cfg.name[i] = names[i];
    } else if (noutputs == n && !prefix && !(n <= 3 && defaults_named(outputs, noutputs, n))) {
        for (int i = 0; i < n; i++) cfg.name[i] = outputs[i].name;
    } else if (n <= 3) {
        for (int i = 0; i < n; i++) cfg.name[i] = default_names[i];
    } else {
        return sft_usage_error("--names is required for more than 3 parts");
    }
    for (int i = 0; i < n; i++) {
        if (strchr(cfg.name[i], '/')) return sft_usage_error("part name '%s' contains '/'", cfg.name[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(cfg.name[i], cfg.name[j]) == 0)
                return sft_usage_error("part name '%s' given twice", cfg.name[i]);
    }

    const char *file[SPLIT_MAX_PARTS] = {0};
    char *owned[SPLIT_MAX_PARTS] = {0};
    int status = 0;
    if (cfg.key_spec) {
        if (json_path_parse(&key_path, cfg.key_spec) != 0)
            return sft_usage_error("invalid field path '%s' for --key", cfg.key_spec);
        cfg.key = &key_path;
    }
    if (cfg.stratify_spec) {
        if (json_path_parse(&strat_path, cfg.stratify_spec) != 0) {
            status = sft_usage_error("invalid field path '%s' for --stratify", cfg.stratify_spec);
            goto done;
        }
        cfg.stratify = &strat_path;
        cfg.exact = 1;
    }
    status = resolve_files(&cfg, outputs, noutputs, prefix, file, owned);
    if (!status)
        status = check_overlaps(n, file, run.rejects_path, argv + optind, argc - optind);
    if (!status)
        status = run_split(&cfg, &run, (const char *const *)argv + optind, (size_t)(argc - optind),
                           file);
done:
    for (int i = 0; i < n; i++) free(owned[i]);
    if (cfg.key) json_path_free(&key_path);
    if (cfg.stratify) json_path_free(&strat_path);
    return status;
}
