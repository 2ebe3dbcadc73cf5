/* The loss and LoRA gradients of a set of sequences as one optimizer step,
 * for the conformance test against the PyTorch reference
 * (tests/conformance/nn-train.sh):
 *
 *   nn-grads --model DIR --adapter DIR FILE --out OUT.safetensors [-t N]
 *            [--grad-checkpoint] [--dropout P]
 *
 * FILE holds {"ids":[...], "mask":[...]?} records (mask[i] = 1: token i is
 * trained, predicted from the tokens before it; no mask: every token after
 * the first). The loss is the sum of the trained tokens' -log p over all
 * records divided by their number; OUT gets its gradient with respect to
 * every lora_A/lora_B (F32, PEFT's names); stdout {"loss": L, "n_tokens": N}. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cli.h"
#include "nn/model.h"
#include "nn/train.h"

typedef struct {
    int32_t *ids, *target;
    int64_t n;
} seq;

static int read_seqs(const char *path, seq **out, size_t *nout, int64_t *ntrain)
{
    sft_buf text = {0};
    if (buf_read_file(&text, path, (size_t)1 << 30) != 0 || buf_append(&text, "", 1) != 0) return -1;
    size_t n = 0;
    *ntrain = 0;
    seq *s = NULL;
    for (char *line = strtok(text.p, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *r = cJSON_Parse(line);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r, "ids"), *mask = cJSON_GetObjectItemCaseSensitive(r, "mask");
        if (!cJSON_IsArray(ids)) {
            cJSON_Delete(r);
            continue;
        }
        s = realloc(s, (n + 1) * sizeof *s);
        int64_t len = cJSON_GetArraySize(ids);
        s[n].n = len;
        s[n].ids = malloc((size_t)len * sizeof(int32_t));
        s[n].target = malloc((size_t)len * sizeof(int32_t));
        for (int64_t i = 0; i < len; i++) s[n].ids[i] = (int32_t)cJSON_GetArrayItem(ids, (int)i)->valuedouble;
        for (int64_t i = 0; i < len; i++) {
            int trained = i + 1 < len && (!mask || cJSON_GetArrayItem(mask, (int)(i + 1))->valuedouble == 1);
            s[n].target[i] = trained ? s[n].ids[i + 1] : -1;
            *ntrain += trained;
        }
        n++;
        cJSON_Delete(r);
    }
    buf_free(&text);
    *out = s;
    *nout = n;
    return 0;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"adapter", required_argument, NULL, 'a'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"grad-checkpoint", no_argument, NULL, 'g'},
                                         {"dropout", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL, *adapter = NULL, *out = NULL;
    uint64_t threads = 0;
    int opt, ckpt = 0;
    double dropout = 0;
    while ((opt = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': model = optarg; break;
        case 'a': adapter = optarg; break;
        case 'o': out = optarg; break;
        case 'g': ckpt = 1; break;
        case 'd':
            if (sft_parse_double(optarg, &dropout) || dropout < 0 || dropout >= 1) return sft_bad_option_value("dropout", optarg);
            break;
        case 't':
            if (sft_parse_u64(optarg, 0, 1024, &threads)) return sft_bad_option_value("threads", optarg);
            break;
        default: return SFT_EX_USAGE;
        }
    }
    if (!model || !adapter || !out || optind + 1 != argc)
        return sft_usage_error("usage: nn-grads --model DIR --adapter DIR FILE --out OUT.safetensors");
    seq *seqs;
    size_t nseq;
    int64_t ntrain, maxT = 1;
    if (read_seqs(argv[optind], &seqs, &nseq, &ntrain) != 0) {
        sft_error("%s: %s", argv[optind], strerror(errno));
        return SFT_EX_NOINPUT;
    }
    for (size_t i = 0; i < nseq; i++)
        if (seqs[i].n > maxT) maxT = seqs[i].n;
    char err[1024];
    nn_model *m = nn_model_load(model, err, sizeof err);
    nn_train_opts to = {.max_T = maxT, .grad_checkpoint = ckpt, .dropout = dropout};
    nn_trainer *t = m ? nn_trainer_from_adapter(m, adapter, &to, err, sizeof err) : NULL;
    if (!t) {
        sft_error("%s", err);
        return SFT_EX_DATAERR;
    }
    nn_pool *pool = nn_pool_new((int)threads);
    nn_trainer_zero_grad(t);
    double nll = 0;
    int64_t n = 0;
    for (size_t i = 0; i < nseq; i++)
        if (nn_trainer_accumulate(t, pool, seqs[i].ids, seqs[i].target, NULL, NULL, seqs[i].n,
                                  ntrain ? 1.0f / (float)ntrain : 0.0f, &nll, &n, err, sizeof err)) {
            sft_error("%s", err);
            return SFT_EX_DATAERR;
        }
    if (nn_trainer_write_tensors(t, nn_trainer_grads(t), out, err, sizeof err)) {
        sft_error("%s", err);
        return SFT_EX_IOERR;
    }
    printf("{\"loss\": %.17g, \"n_tokens\": %lld}\n", n ? nll / (double)n : 0.0, (long long)n);
    for (size_t i = 0; i < nseq; i++) {
        free(seqs[i].ids);
        free(seqs[i].target);
    }
    free(seqs);
    nn_pool_free(pool);
    nn_trainer_free(t);
    nn_model_free(m);
    return 0;
}
