// spm_baseline: libsentencepiece's own speed, the reference for tokcount's
// SentencePiece path in the tokcount benchmark (tests/bench/tok-bench.sh).
//
//   spm_baseline [--ids FILE] [--reps N] MODEL TEXTS
//
// TEXTS holds the texts one after another, each ended by a NUL byte (what
// tok-bench.sh extracts from the corpus's "text" fields: JSON-decoded, so
// newlines and quotes are themselves, nothing to unescape).  The model is
// loaded and the texts are read first; then only the encoding is timed:
// SentencePieceProcessor::Encode(text, &ids) (EncodeAsIds without the copy;
// no BOS/EOS) on each text in turn, the best of --reps (1) passes.
// --ids FILE writes the ids, one line per text, space-separated.  The last
// line on stdout is
//   spm-baseline: records=R tokens=T encode_s=S tokens_per_s=X load_s=L
//
// g++ -std=c++17 -O2 spm_baseline.cc -o spm_baseline $(pkg-config --cflags --libs sentencepiece)
// Exit status: 0 ok, 2 usage error, 66 an input cannot be read, 70 an
// encoding failed, 73 the ids file cannot be written.
#include <sentencepiece_processor.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static void usage()
{
    std::fputs("usage: spm_baseline [--ids FILE] [--reps N] MODEL TEXTS\n", stderr);
    std::exit(2);
}

int main(int argc, char **argv)
{
    const char *ids_path = nullptr, *model = nullptr, *texts_path = nullptr;
    int reps = 1;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--ids") && i + 1 < argc) {
            ids_path = argv[++i];
        } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
            char *end;
            long v = std::strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 99)
                usage();
            reps = (int)v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            usage();
        } else if (!model) {
            model = argv[i];
        } else if (!texts_path) {
            texts_path = argv[i];
        } else {
            usage();
        }
    }
    if (!model || !texts_path)
        usage();

    // the texts, not timed
    std::string all;
    {
        FILE *f = std::fopen(texts_path, "rb");
        if (!f) {
            std::perror(texts_path);
            return 66;
        }
        char buf[1 << 16];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
            all.append(buf, n);
        std::fclose(f);
    }
    std::vector<std::string> texts;
    for (size_t p = 0; p < all.size();) {
        size_t e = all.find('\0', p);
        if (e == std::string::npos)
            e = all.size();
        texts.emplace_back(all, p, e - p);
        p = e + 1;
    }
    all.clear();
    all.shrink_to_fit();

    double t0 = now();
    sentencepiece::SentencePieceProcessor sp;
    const auto status = sp.Load(model);
    if (!status.ok()) {
        std::fprintf(stderr, "spm_baseline: %s: %s\n", model, status.ToString().c_str());
        return 66;
    }
    const double load_s = now() - t0;

    // the timed part: encoding only
    std::vector<std::vector<int>> ids(texts.size());
    double best = 1e300;
    unsigned long long tokens = 0;
    for (int rep = 0; rep < reps; rep++) {
        t0 = now();
        for (size_t i = 0; i < texts.size(); i++) {
            if (!sp.Encode(texts[i], &ids[i]).ok()) {
                std::fprintf(stderr, "spm_baseline: text %zu: encoding failed\n", i + 1);
                return 70;
            }
        }
        const double t = now() - t0;
        if (t < best)
            best = t;
    }
    for (const auto &v : ids)
        tokens += v.size();

    if (ids_path) {
        FILE *f = std::fopen(ids_path, "wb");
        if (!f) {
            std::perror(ids_path);
            return 73;
        }
        for (const auto &v : ids) {
            for (size_t j = 0; j < v.size(); j++)
                std::fprintf(f, j ? " %d" : "%d", v[j]);
            std::fputc('\n', f);
        }
        if (std::fclose(f) != 0) {
            std::perror(ids_path);
            return 73;
        }
    }
    std::printf("spm-baseline: records=%zu tokens=%llu encode_s=%.4f tokens_per_s=%.0f load_s=%.4f\n",
                texts.size(), tokens, best, best > 0 ? (double)tokens / best : 0.0, load_s);
    return 0;
}
