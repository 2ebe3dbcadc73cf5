/* pii-mask: personal data in JSONL records replaced by tags or pseudonyms. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/inputs.h"
#include "core/out.h"
#include "core/utf8.h"
#include "pii/pii.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: %s [OPTION]... [FILE]...\n", sft_prog);
    fputs("Replace personal data (resident and foreigner registration numbers, phones,\n"
          "e-mail, cards, business and driving licence numbers, passports, bank\n"
          "accounts, addresses, names) in the string values of JSONL records.\n"
          "\n"
          "  -t, --types LIST        detectors: all, default, a list (phone,email) or\n"
          "                          changes to the default (+url,-address); default:\n"
          "                          rrn,frn,phone,email,ip,card,brn,passport,driver,\n"
          "                          account,address,name; opt-in: url, name-guess, spoken\n"
          "  -f, --field PATH        mask only the values at PATH (repeatable): dotted\n"
          "                          names, [] for every array element, [N] for one;\n"
          "                          e.g. text, messages[].content\n"
          "      --skip-key KEY      never mask values under KEY (repeatable; always\n"
          "                          skipped: id ts src kind role type lang model\n"
          "                          source_id conversation path video start end)\n"
          "      --names FILE        names to mask, one per line (# comments)\n"
          "      --speakers-from FILE  learn the names of chat-message records in FILE\n"
          "                          (kakao-parse output) without masking it\n"
          "      --speakers MODE     names from the records' speaker fields: prescan\n"
          "                          (default: read all input first), stream (from each\n"
          "                          speaker's first record on) or off\n"
          "  -s, --style STYLE       tag (default): [PHONE]; pseudo: [PHONE_1a2b3c], the\n"
          "                          same for the same value, keyed by --key-file or\n"
          "                          PII_MASK_KEY\n"
          "      --key-file FILE     the secret key of --style pseudo\n"
          "      --report FILE       write counts per type and field to FILE (JSON)\n"
          "      --spans             with --report: what was masked where, per record\n"
          "  -o, --output FILE       write to FILE instead of standard output\n" SFT_COMMON_OPTIONS_HELP
          "\n"
          "With no FILE, or when FILE is -, read standard input.\n"
          "Exit status: 0 ok, 1 some records rejected (--on-error=skip), 2 usage error,\n"
          "65 bad input, 66 input not found, 73 output not created, 74 I/O error.\n",
          f);
}

enum {
    OPT_SKIP_KEY = SFT_OPT_FIRST_TOOL,
    OPT_NAMES,
    OPT_SPEAKERS_FROM,
    OPT_SPEAKERS,
    OPT_KEY_FILE,
    OPT_REPORT,
    OPT_SPANS,
};

static const struct option long_options[] = {
    {"types", required_argument, NULL, 't'},
    {"field", required_argument, NULL, 'f'},
    {"skip-key", required_argument, NULL, OPT_SKIP_KEY},
    {"names", required_argument, NULL, OPT_NAMES},
    {"speakers-from", required_argument, NULL, OPT_SPEAKERS_FROM},
    {"speakers", required_argument, NULL, OPT_SPEAKERS},
    {"style", required_argument, NULL, 's'},
    {"key-file", required_argument, NULL, OPT_KEY_FILE},
    {"report", required_argument, NULL, OPT_REPORT},
    {"spans", no_argument, NULL, OPT_SPANS},
    {"output", required_argument, NULL, 'o'},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

enum speakers_mode { SPEAKERS_PRESCAN, SPEAKERS_STREAM, SPEAKERS_OFF };

/* Counts for the report: per type, and per type for each field. */
typedef struct {
    char *field;
    uint64_t counts[PII_NTYPES];
} field_counts;

typedef struct {
    pii_masker *m;
    sft_out *out, *report;
    jw rw;                 /* the report's writer */
    sft_out *spans_out;    /* --spans: entries, one per line, in a temporary
                              file until the report is written at the end */
    jw sw;
    uint64_t nspans;
    int spans, learn_stream;
    sft_buf line;
    uint64_t types[PII_NTYPES];
    uint64_t strings, strings_masked;
    field_counts *fields;
    size_t nfields;
} mask_state;

static int out_of_memory(void)
{
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

/* Reads the key of --style pseudo: the file's bytes without a final
 * newline. The key never appears in messages. */
static int read_key_file(const char *path, sft_buf *key)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sft_error("%s: cannot open key file: %s", path, strerror(errno));
        return SFT_EX_NOINPUT;
    }
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(key, chunk, got) != 0) { fclose(f); return out_of_memory(); }
    int err = ferror(f);
    fclose(f);
    if (err) {
        sft_error("%s: read error", path);
        return SFT_EX_IOERR;
    }
    while (key->len && (key->p[key->len - 1] == '\n' || key->p[key->len - 1] == '\r')) key->len--;
    if (key->len == 0) return sft_usage_error("key file '%s' is empty", path);
    return 0;
}

static int read_names(pii_masker *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sft_error("%s: cannot open: %s", path, strerror(errno));
        return SFT_EX_NOINPUT;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    int status = 0;
    while (!status && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        size_t start = lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        if ((size_t)len == start || line[start] == '#') continue;
        if (utf8_invalid_offset((const unsigned char *)line + start, (size_t)len - start) != (size_t)len - start) {
            sft_error_at(path, lineno, 0, "not valid UTF-8");
            status = SFT_EX_DATAERR;
        } else if (pii_add_name(m, line + start, (size_t)len - start) < 0) {
            status = out_of_memory();
        }
    }
    if (!status && ferror(f)) {
        sft_error("%s: read error", path);
        status = SFT_EX_IOERR;
    }
    free(line);
    fclose(f);
    return status;
}

static int learn_record(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                        const jsonl_error *err)
{
    (void)run, (void)r, (void)err;
    if (kind != JSONL_RECORD) return 0; /* rejected in the masking pass */
    return pii_learn_speaker(ctx, rec->text, rec->len) < 0 ? out_of_memory() : 0;
}

/* --speakers-from: a bad line there is no record to mask, but it may have
 * held a name, so it is reported (the first 10) and the run goes on. */
typedef struct {
    pii_masker *m;
    uint64_t bad;
} learn_state;

static int learn_from_file(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                           const jsonl_error *err)
{
    learn_state *ls = ctx;
    if (kind != JSONL_RECORD) {
        if (ls->bad++ < 10)
            sft_error_at(jsonl_name(r), err->line, err->col, "warning: %s (no names learnt from this line)",
                         err->reason);
        return 0;
    }
    return learn_record(ls->m, run, r, kind, rec, err);
}

static field_counts *field_entry(mask_state *st, const char *field)
{
    for (size_t i = 0; i < st->nfields; i++)
        if (strcmp(st->fields[i].field, field) == 0) return &st->fields[i];
    field_counts *f = realloc(st->fields, (st->nfields + 1) * sizeof *f);
    if (!f) return NULL;
    st->fields = f;
    f = &st->fields[st->nfields];
    memset(f, 0, sizeof *f);
    if (!(f->field = strdup(field))) return NULL;
    st->nfields++;
    return f;
}

static void write_spans(mask_state *st, const jsonl_reader *r, const jsonl_record *rec,
                        const pii_record_result *res)
{
    jw *w = &st->sw;
    if (st->nspans++) sft_out_putc(st->spans_out, '\n'); /* the writer puts the comma */
    jw_object(w);
    jw_key(w, "src");
    jw_object(w);
    jw_key(w, "file");
    jw_cstr(w, jsonl_name(r));
    jw_key(w, "line");
    jw_int(w, (int64_t)rec->line);
    jw_end(w);
    jw_key(w, "masks");
    jw_array(w);
    for (size_t i = 0; i < res->nmasks; i++) {
        const pii_mask_info *mi = &res->masks[i];
        jw_object(w);
        jw_key(w, "path");
        jw_cstr(w, mi->path);
        jw_key(w, "type");
        jw_cstr(w, pii_detector_name(mi->type));
        jw_key(w, "start");
        jw_int(w, mi->start);
        jw_key(w, "end");
        jw_int(w, mi->end);
        jw_end(w);
    }
    jw_end(w);
    jw_end(w);
}

static int mask_one(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                    const jsonl_error *err)
{
    mask_state *st = ctx;
    run->in++;
    if (kind != JSONL_RECORD)
        return sft_run_reject(run, jsonl_name(r), err->line, err->col, rec->text, rec->len, err->reason);
    if (st->learn_stream && pii_learn_speaker(st->m, rec->text, rec->len) < 0) return out_of_memory();
    pii_record_result res;
    st->line.len = 0;
    int changed = pii_mask_record(st->m, rec->text, rec->len, &st->line, &res);
    if (changed < 0) return out_of_memory();
    if (changed) sft_out_write(st->out, st->line.p, st->line.len);
    else sft_out_write(st->out, rec->text, rec->len);
    sft_out_putc(st->out, '\n');
    run->out++;
    st->strings += res.strings;
    st->strings_masked += res.strings_masked;
    for (size_t i = 0; i < res.nmasks; i++) {
        const pii_mask_info *mi = &res.masks[i];
        st->types[mi->type]++;
        if (st->report) {
            field_counts *f = field_entry(st, mi->field);
            if (!f) return out_of_memory();
            f->counts[mi->type]++;
        }
    }
    if (st->spans && res.nmasks) write_spans(st, r, rec, &res);
    if (sft_out_error(st->out)) return sft_write_error(sft_out_name(st->out), sft_out_error(st->out));
    if (st->spans_out && sft_out_error(st->spans_out))
        return sft_write_error("temporary file of --spans", sft_out_error(st->spans_out));
    return 0;
}

static void write_type_counts(jw *w, const uint64_t *counts, unsigned detectors)
{
    jw_object(w);
    for (int t = 0; t < PII_NTYPES; t++) {
        int on = (detectors & PII_BIT(t)) || (t == PII_NAME && (detectors & PII_BIT(PII_DET_NAME_GUESS))) ||
                 ((t == PII_PHONE || t == PII_RRN) && (detectors & PII_BIT(PII_DET_SPOKEN)));
        if (!on && !counts[t]) continue;
        jw_key(w, pii_detector_name(t));
        jw_int(w, (int64_t)counts[t]);
    }
    jw_end(w);
}

/* The spans, from their temporary file into the report. */
static int copy_spans(mask_state *st)
{
    int err = sft_out_flush(st->spans_out);
    if (err) return sft_write_error("temporary file of --spans", err);
    int fd = st->spans_out->fd;
    if (lseek(fd, 0, SEEK_SET) != 0) return sft_write_error("temporary file of --spans", errno);
    jw_key(&st->rw, "spans");
    sft_out_write(st->report, "[\n", 2);
    char chunk[1 << 14];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) != 0) {
        if (got < 0) {
            if (errno == EINTR) continue;
            sft_error("temporary file of --spans: read error: %s", strerror(errno));
            return SFT_EX_IOERR;
        }
        sft_out_write(st->report, chunk, (size_t)got);
    }
    /* The array was written by hand; the writer goes on after it. */
    sft_out_write(st->report, st->nspans ? "\n]" : "]", st->nspans ? 2 : 1);
    st->rw.after_key = 0;
    st->rw.need_comma[st->rw.depth] = 1;
    return 0;
}

/* The report's closing part: the counts, known only at the end. */
static void write_report_counts(mask_state *st, const sft_run *run, unsigned detectors)
{
    jw *w = &st->rw;
    jw_key(w, "records");
    jw_object(w);
    jw_key(w, "in");
    jw_int(w, (int64_t)run->in);
    jw_key(w, "out");
    jw_int(w, (int64_t)run->out);
    jw_key(w, "rejected");
    jw_int(w, (int64_t)run->rejected);
    jw_key(w, "filtered");
    jw_int(w, (int64_t)run->filtered);
    jw_end(w);
    jw_key(w, "strings");
    jw_object(w);
    jw_key(w, "seen");
    jw_int(w, (int64_t)st->strings);
    jw_key(w, "masked");
    jw_int(w, (int64_t)st->strings_masked);
    jw_end(w);
    jw_key(w, "types");
    write_type_counts(w, st->types, detectors);
    jw_key(w, "fields");
    jw_object(w);
    for (size_t i = 0; i < st->nfields; i++) {
        jw_key(w, st->fields[i].field);
        write_type_counts(w, st->fields[i].counts, 0);
    }
    jw_end(w);
    jw_end(w);
    jw_newline(w);
}

/* Refuses outputs that are also files read (records, names, the key) or
 * each other: data would be lost silently. */
static int check_files(const char *output, const char *report, const char *rejects, char **inputs, int ninputs,
                       char *const *others, int nothers)
{
    const char *outs[3] = {output, report, rejects};
    const char *what[3] = {"output", "--report", "--rejects"};
    for (int i = 0; i < 3; i++) {
        if (!outs[i] || strcmp(outs[i], "-") == 0) continue;
        for (int k = 0; k < ninputs; k++)
            if (sft_same_file(outs[i], inputs[k]))
                return sft_usage_error("%s '%s' is also an input", what[i], outs[i]);
        for (int k = 0; k < nothers; k++)
            if (others[k] && sft_same_file(outs[i], others[k]))
                return sft_usage_error("%s '%s' is also a file it reads", what[i], outs[i]);
        for (int j = 0; j < i; j++)
            if (outs[j] && strcmp(outs[j], "-") && sft_same_file(outs[i], outs[j]))
                return sft_usage_error("%s '%s' is also the %s", what[i], outs[i], what[j]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    unsigned detectors = PII_DEFAULT_DETECTORS;
    enum pii_style style = PII_STYLE_TAG;
    enum speakers_mode speakers = SPEAKERS_PRESCAN;
    const char *output = "-", *report_path = NULL, *key_file = NULL;
    const char *fields[64], *skip_keys[64], *names_files[16];
    char *speaker_files[16];
    int nfields = 0, nskip = 0, nnames = 0, nspeaker_files = 0, spans = 0;
    int opt, rc;
    char err[300];

    while ((opt = getopt_long(argc, argv, "t:f:s:o:vhV", long_options, NULL)) != -1) {
        switch (opt) {
        case 't':
            if (pii_parse_types(optarg, &detectors, err, sizeof err) != 0)
                return sft_usage_error("invalid value '%s' for --types: %s", optarg, err);
            break;
        case 'f':
            if (nfields == 64) return sft_usage_error("too many --field options (at most 64)");
            fields[nfields++] = optarg;
            break;
        case OPT_SKIP_KEY:
            if (nskip == 64) return sft_usage_error("too many --skip-key options (at most 64)");
            skip_keys[nskip++] = optarg;
            break;
        case OPT_NAMES:
            if (nnames == 16) return sft_usage_error("too many --names options (at most 16)");
            names_files[nnames++] = optarg;
            break;
        case OPT_SPEAKERS_FROM:
            if (nspeaker_files == 16) return sft_usage_error("too many --speakers-from options (at most 16)");
            speaker_files[nspeaker_files++] = optarg;
            break;
        case OPT_SPEAKERS:
            if (strcmp(optarg, "prescan") == 0) speakers = SPEAKERS_PRESCAN;
            else if (strcmp(optarg, "stream") == 0) speakers = SPEAKERS_STREAM;
            else if (strcmp(optarg, "off") == 0) speakers = SPEAKERS_OFF;
            else return sft_usage_error("invalid value '%s' for --speakers: expected prescan, stream or off", optarg);
            break;
        case 's':
            if (strcmp(optarg, "tag") == 0) style = PII_STYLE_TAG;
            else if (strcmp(optarg, "pseudo") == 0) style = PII_STYLE_PSEUDO;
            else return sft_usage_error("invalid value '%s' for --style: expected tag or pseudo", optarg);
            break;
        case OPT_KEY_FILE: key_file = optarg; break;
        case OPT_REPORT: report_path = optarg; break;
        case OPT_SPANS: spans = 1; break;
        case 'o': output = optarg; break;
        default:
            if ((rc = sft_standard_option(opt, usage)) >= 0) return rc;
            if ((rc = sft_run_option(&run, opt, optarg)) != 0) return rc;
        }
    }
    if (spans && !report_path) return sft_usage_error("--spans needs --report FILE");
    if (key_file && style != PII_STYLE_PSEUDO) return sft_usage_error("--key-file applies to --style pseudo");
    int names_on = (detectors & PII_BIT(PII_NAME)) != 0;
    if ((nnames || nspeaker_files) && !names_on)
        return sft_usage_error("--names or --speakers-from given but the name type is off");
    char *read_files[16 + 16 + 1];
    int nread = 0;
    for (int i = 0; i < nnames; i++) read_files[nread++] = (char *)names_files[i];
    for (int i = 0; i < nspeaker_files; i++) read_files[nread++] = speaker_files[i];
    if (key_file) read_files[nread++] = (char *)key_file;
    if ((rc = check_files(output, report_path, run.rejects_path, argv + optind, argc - optind, read_files, nread)) != 0)
        return rc;

    pii_masker *m = pii_masker_new(detectors);
    if (!m) return out_of_memory();
    mask_state st = {.m = m, .spans = spans};
    size_t ninputs = 0;
    sft_input *inputs = NULL;
    int status = 0;

    if (style == PII_STYLE_PSEUDO) {
        sft_buf key = {0};
        const char *env = getenv("PII_MASK_KEY");
        if (key_file) status = read_key_file(key_file, &key);
        else if (env && *env) status = buf_append(&key, env, strlen(env)) ? out_of_memory() : 0;
        else status = sft_usage_error("--style pseudo needs a secret key: --key-file FILE or the "
                                      "PII_MASK_KEY environment variable");
        if (!status) pii_set_style(m, PII_STYLE_PSEUDO, key.p, key.len);
        if (key.p) memset(key.p, 0, key.cap);
        buf_free(&key);
        if (status) goto done;
    }
    for (int i = 0; i < nfields && !status; i++)
        if (pii_add_field(m, fields[i]) != 0)
            status = errno == ENOMEM ? out_of_memory()
                                     : sft_usage_error("invalid field path '%s' for --field: expected names "
                                                       "joined by '.', with [] or [N] for arrays",
                                                       fields[i]);
    for (int i = 0; i < nskip && !status; i++)
        if (pii_skip_key(m, skip_keys[i]) != 0) status = out_of_memory();
    for (int i = 0; i < nnames && !status; i++) status = read_names(m, names_files[i]);
    if (!nspeaker_files || status) goto inputs_ready;
    {
        size_t nfrom;
        sft_input *from = sft_inputs_new(speaker_files, (size_t)nspeaker_files, &nfrom);
        if (!from) status = out_of_memory();
        if (!status) status = sft_inputs_check(from, nfrom);
        if (!status) {
            sft_run scan = run;
            scan.progress = 0;
            scan.on_error = SFT_ON_ERROR_SKIP;
            learn_state ls = {m, 0};
            status = sft_each_record(&scan, from, nfrom, learn_from_file, &ls);
            if (ls.bad > 10) sft_error("warning: %" PRIu64 " bad lines in --speakers-from files", ls.bad);
        }
        sft_inputs_free(from, nfrom);
    }
inputs_ready:
    if (status) goto done;

    inputs = sft_inputs_new(argv + optind, (size_t)(argc - optind), &ninputs);
    if (!inputs) { status = out_of_memory(); goto done; }
    if ((status = sft_inputs_check(inputs, ninputs)) != 0) goto done;

    if ((status = sft_run_start(&run)) != 0) goto done;

    /* Speakers first, so that a name is masked before its owner speaks. */
    if (names_on && speakers == SPEAKERS_PRESCAN) {
        for (size_t i = 0; i < ninputs && !status; i++) status = sft_input_spill(&inputs[i]);
        if (!status) {
            sft_run scan = run;
            scan.progress = 0;
            status = sft_each_record(&scan, inputs, ninputs, learn_record, m);
        }
        if (status) goto done;
    }
    st.learn_stream = names_on && speakers == SPEAKERS_STREAM;

    if (!(st.out = sft_out_open(output))) {
        sft_error("%s: cannot create: %s", output, strerror(errno));
        status = SFT_EX_CANTCREAT;
        goto done;
    }
    if (report_path) {
        if (!(st.report = sft_out_open(report_path))) {
            sft_error("%s: cannot create: %s", report_path, strerror(errno));
            status = SFT_EX_CANTCREAT;
            goto done;
        }
        jw_init(&st.rw, st.report);
    }
    if (spans) {
        int fd = sft_temp_fd();
        if (fd < 0) {
            status = fd == -ENOMEM ? SFT_EX_SOFTWARE : SFT_EX_CANTCREAT;
            goto done;
        }
        if (!(st.spans_out = sft_out_fd(fd, "temporary file of --spans"))) {
            close(fd);
            status = out_of_memory();
            goto done;
        }
        st.spans_out->close_fd = 1;
        jw_init(&st.sw, st.spans_out);
    }
    status = sft_each_record(&run, inputs, ninputs, mask_one, &st);
    if (!status && run.verbose) {
        char line[600];
        size_t len = 0;
        for (int t = 0; t < PII_NTYPES; t++)
            if (st.types[t] && len < sizeof line - 40)
                len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %" PRIu64, len ? ", " : "",
                                        pii_detector_name(t), st.types[t]);
        sft_error("masked %" PRIu64 " of %" PRIu64 " strings: %s", st.strings_masked, st.strings,
                  len ? line : "nothing found");
    }

done:
    /* The records first: when the report goes to /dev/stdout, it follows
     * them. */
    if (st.out) {
        int e = sft_out_close(st.out, status == 0);
        if (e && !status) status = sft_write_error(strcmp(output, "-") ? output : "<stdout>", e);
    }
    if (st.report) {
        jw_object(&st.rw);
        if (!status && st.spans_out) status = copy_spans(&st);
        if (!status) write_report_counts(&st, &run, detectors);
        int e = sft_out_close(st.report, status == 0);
        if (e && !status) status = sft_write_error(report_path, e);
    }
    if (st.spans_out) sft_out_close(st.spans_out, 0);
    for (size_t i = 0; i < st.nfields; i++) free(st.fields[i].field);
    free(st.fields);
    buf_free(&st.line);
    sft_inputs_free(inputs, ninputs);
    pii_masker_free(m);
    return sft_run_finish(&run, status);
}
