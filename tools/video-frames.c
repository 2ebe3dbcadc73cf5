/* video-frames: sample frames from videos (FFmpeg's libraries) and write a
 * video-sample record per video; FineVideo metadata becomes an SFT
 * conversation about the frames. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/cli.h"
#include "core/hash.h"
#include "core/inputs.h"
#include "core/json.h"
#include "core/jsonl.h"
#include "media/finevideo.h"
#include "media/frames.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: %s [OPTION]... --out-dir DIR [FILE]...\n", sft_prog);
    fputs("Sample frames from videos and write one video-sample record per video (JSONL).\n"
          "Each FILE is a video, or a JSONL file of records with a video path (a name\n"
          "ending in .jsonl, .ndjson or .json, or a file that starts with '{'). With no\n"
          "FILE, or when FILE is -, read JSONL records from standard input.\n"
          "\n"
          "Frames:\n"
          "  -n, --frames N          frames per video, evenly spaced (default 8)\n"
          "      --fps R             instead one frame every 1/R seconds (at most --max-frames)\n"
          "      --scene             instead the first frame and each scene change\n"
          "      --scene-threshold X  difference 0..1 that counts as a scene change (default 0.3)\n"
          "      --max-frames N      most frames for --fps and --scene (default 64)\n"
          "      --max-side PX       scale down so the longer side is at most PX (default: keep)\n"
          "      --format jpg|png    image format (default jpg)\n"
          "      --quality Q         JPEG quality 1..100 (default 90)\n"
          "      --background RRGGBB  colour under transparent pixels (default 000000)\n"
          "      --out-dir DIR       write frame K of video ID to DIR/ID/K.jpg (required)\n"
          "  -o, --output FILE       write the records to FILE (default standard output)\n"
          "  -j, --jobs N            videos decoded at once (default 1); output in input order\n"
          "\n"
          "JSONL records:\n"
          "      --id-field PATH     the record's id (default id; else the video's file name)\n"
          "      --video-field PATH  the video's path (default video)\n"
          "      --video-dir DIR     relative video paths are relative to DIR\n"
          "\n"
          "FineVideo metadata (adds \"messages\", an SFT conversation about the frames):\n"
          "      --meta FILE         metadata (a JSON object) for videos without any in their\n"
          "                          record; {id} in FILE stands for the video's id\n"
          "      --meta-field PATH   the metadata's field in JSONL records (default json)\n"
          "      --prompt TEXT       the user's words (default \"" FV_DEFAULT_PROMPT "\")\n"
          "      --scenes N          scenes in the assistant's turn (default all; 0: none)\n"
          "      --qa                add the metadata's Q&A pairs as further turns\n"
          "      --no-messages       do not add messages\n"
          "\n"
          "Filters (on the metadata when it has the value, else on the video):\n"
          "      --min-duration S    drop videos shorter than S seconds\n"
          "      --max-duration S    drop videos longer than S seconds\n"
          "      --min-res WxH       drop videos narrower than W or lower than H pixels\n"
          "\n" SFT_COMMON_OPTIONS_HELP
          "\n"
          "Exit status: 0 ok, 1 some videos or records rejected (--on-error=skip), 2 usage\n"
          "error, 65 a bad video or record, 66 input not found, 73 output not created,\n"
          "74 I/O error.\n",
          f);
}

enum {
    OPT_FPS = SFT_OPT_FIRST_TOOL,
    OPT_SCENE,
    OPT_SCENE_THRESHOLD,
    OPT_MAX_FRAMES,
    OPT_MAX_SIDE,
    OPT_FORMAT,
    OPT_QUALITY,
    OPT_BACKGROUND,
    OPT_OUT_DIR,
    OPT_ID_FIELD,
    OPT_VIDEO_FIELD,
    OPT_VIDEO_DIR,
    OPT_META,
    OPT_META_FIELD,
    OPT_PROMPT,
    OPT_SCENES,
    OPT_QA,
    OPT_NO_MESSAGES,
    OPT_MIN_DURATION,
    OPT_MAX_DURATION,
    OPT_MIN_RES,
};

static const struct option long_options[] = {
    {"frames", required_argument, NULL, 'n'},
    {"fps", required_argument, NULL, OPT_FPS},
    {"scene", no_argument, NULL, OPT_SCENE},
    {"scene-threshold", required_argument, NULL, OPT_SCENE_THRESHOLD},
    {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
    {"max-side", required_argument, NULL, OPT_MAX_SIDE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"quality", required_argument, NULL, OPT_QUALITY},
    {"background", required_argument, NULL, OPT_BACKGROUND},
    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
    {"output", required_argument, NULL, 'o'},
    {"jobs", required_argument, NULL, 'j'},
    {"id-field", required_argument, NULL, OPT_ID_FIELD},
    {"video-field", required_argument, NULL, OPT_VIDEO_FIELD},
    {"video-dir", required_argument, NULL, OPT_VIDEO_DIR},
    {"meta", required_argument, NULL, OPT_META},
    {"meta-field", required_argument, NULL, OPT_META_FIELD},
    {"prompt", required_argument, NULL, OPT_PROMPT},
    {"scenes", required_argument, NULL, OPT_SCENES},
    {"qa", no_argument, NULL, OPT_QA},
    {"no-messages", no_argument, NULL, OPT_NO_MESSAGES},
    {"min-duration", required_argument, NULL, OPT_MIN_DURATION},
    {"max-duration", required_argument, NULL, OPT_MAX_DURATION},
    {"min-res", required_argument, NULL, OPT_MIN_RES},
    SFT_COMMON_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* ---- settings ---- */

typedef struct {
    vf_options vo;
    const char *out_dir;
    const char *video_dir;
    const char *meta_file;
    const char *prompt;
    int scenes;
    int with_qa, messages;
    double min_dur, max_dur;
    int min_w, min_h;
    json_path id_path, video_path, meta_path;
} settings;

/* ---- one video's job ---- */

enum { JOB_PENDING, JOB_RUNNING, JOB_DONE };
enum { RES_OK, RES_REJECT, RES_FILTERED, RES_CANTCREAT, RES_IOERR };

typedef struct {
    /* set when the job is made */
    char *src;           /* the input's name for diagnostics */
    uint64_t line;       /* 0 for a video named on the command line */
    char *text;          /* the record's line, or the video's path (rejects) */
    char *video;         /* path to open */
    char *id;
    cJSON *rec;          /* the input record (JSONL), or NULL */
    cJSON *meta_tree;    /* owns the metadata object */
    const cJSON *meta;   /* the FineVideo metadata, or NULL */
    int state;
    /* the outcome */
    int result;
    char *out_line;      /* the record to write */
    size_t decoded, taken; /* frames decoded and taken (-vv) */
    char codec[32];
    char why[512];       /* reject or filter reason */
} job;

static void job_free(job *j)
{
    if (!j) return;
    free(j->src);
    free(j->text);
    free(j->video);
    free(j->id);
    cJSON_Delete(j->rec);
    cJSON_Delete(j->meta_tree);
    free(j->out_line);
    free(j);
}

static double round6(double x) { return round(x * 1e6) / 1e6; }

/* The record of a video whose frames were taken. Returns 0, or -1 with
 * j->why set (out of memory, or no conversation could be made). */
static int build_record(const settings *s, job *j, const vf_result *res, const fv_meta *fm)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *frames = cJSON_CreateArray();
    if (!o || !frames) goto nomem;
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "video", j->video);
    cJSON_AddNumberToObject(o, "duration_s", round6(res->duration));
    cJSON_AddNumberToObject(o, "width", res->width);
    cJSON_AddNumberToObject(o, "height", res->height);
    cJSON_AddNumberToObject(o, "fps", round6(res->fps));
    for (size_t k = 0; k < res->nframes; k++) {
        cJSON *f = cJSON_CreateObject();
        if (!f) goto nomem;
        cJSON_AddItemToArray(frames, f);
        cJSON_AddNumberToObject(f, "i", (double)k);
        cJSON_AddNumberToObject(f, "t", round6(res->frames[k].t));
        cJSON_AddStringToObject(f, "path", res->frames[k].path);
    }
    cJSON_AddItemToObject(o, "frames", frames);
    frames = NULL;
    if (fm && s->messages) {
        const char **paths = malloc((res->nframes + 1) * sizeof *paths);
        if (!paths) goto nomem;
        for (size_t k = 0; k < res->nframes; k++) paths[k] = res->frames[k].path;
        char err[256];
        cJSON *msgs = fv_conversation(fm, paths, res->nframes, s->prompt, s->scenes, s->with_qa, err, sizeof err);
        free(paths);
        if (!msgs) {
            snprintf(j->why, sizeof j->why, "no conversation from the metadata: %s", err);
            cJSON_Delete(o);
            return -1;
        }
        cJSON_AddItemToObject(o, "messages", msgs);
    }
    /* the input record's other fields are kept */
    if (j->rec) {
        static const char *const ours[] = {"id", "video", "duration_s", "width", "height", "fps", "frames"};
        for (cJSON *it = j->rec->child; it; it = it->next) {
            int mine = 0;
            for (size_t k = 0; k < sizeof ours / sizeof *ours; k++) mine |= strcmp(it->string, ours[k]) == 0;
            /* the record's own messages stay unless new ones were made */
            if (mine || cJSON_GetObjectItemCaseSensitive(o, it->string)) continue;
            cJSON *dup = cJSON_Duplicate(it, 1);
            if (!dup) goto nomem;
            cJSON_AddItemToObject(o, it->string, dup);
        }
        if (!cJSON_GetObjectItemCaseSensitive(o, "src")) {
            cJSON *src = cJSON_AddObjectToObject(o, "src");
            if (!src) goto nomem;
            cJSON_AddStringToObject(src, "file", j->src);
            cJSON_AddNumberToObject(src, "line", (double)j->line);
        }
    }
    j->out_line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!j->out_line) goto nomem2;
    return 0;
nomem:
    cJSON_Delete(frames);
    cJSON_Delete(o);
nomem2:
    snprintf(j->why, sizeof j->why, "out of memory");
    return -1;
}

/* Takes the frames of j's video and makes its record (worker side). */
static void run_job(const settings *s, job *j, int threads)
{
    fv_meta fm;
    int have_meta = 0;
    if (j->meta) {
        char err[256];
        if (fv_parse(j->meta, &fm, err, sizeof err) != 0) {
            j->result = RES_REJECT;
            snprintf(j->why, sizeof j->why, "FineVideo metadata: %s", err);
            return;
        }
        have_meta = 1;
    }
    /* the filters the metadata decides; the rest go to the video */
    vf_options vo = s->vo;
    vo.threads = threads;
    double min_dur = s->min_dur, max_dur = s->max_dur;
    int min_w = s->min_w, min_h = s->min_h;
    if (have_meta) {
        const char *why = NULL;
        if ((fm.duration >= 0 && !fv_filter(&fm, min_dur, max_dur, 0, 0, &why)) ||
            (fm.width > 0 && !fv_filter(&fm, 0, 0, min_w, min_h, &why))) {
            j->result = RES_FILTERED;
            snprintf(j->why, sizeof j->why, "%s", why);
            fv_meta_free(&fm);
            return;
        }
        if (fm.duration >= 0) min_dur = max_dur = 0;
        if (fm.width > 0) min_w = min_h = 0;
    }
    vo.min_duration = min_dur;
    vo.max_duration = max_dur;
    vo.min_width = min_w;
    vo.min_height = min_h;

    char *dir = NULL;
    vf_result res;
    char err[400];
    if (asprintf(&dir, "%s/%s", s->out_dir, j->id) < 0) {
        dir = NULL;
        j->result = RES_REJECT;
        snprintf(j->why, sizeof j->why, "out of memory");
    } else {
        int rc = vf_extract(j->video, dir, &vo, &res, err, sizeof err);
        if (rc == VF_ERR_CREATE || rc == VF_ERR_WRITE) { /* the output's fault: stop */
            j->result = rc == VF_ERR_CREATE ? RES_CANTCREAT : RES_IOERR;
            snprintf(j->why, sizeof j->why, "%s", err);
        } else if (rc < 0) {
            j->result = RES_REJECT;
            /* a video named on the command line is already the message's FILE */
            if (j->line) snprintf(j->why, sizeof j->why, "%s: %s", j->video, err);
            else snprintf(j->why, sizeof j->why, "%s", err);
        } else if (rc > 0) {
            j->result = RES_FILTERED;
            snprintf(j->why, sizeof j->why, "%s", err);
        } else {
            j->result = build_record(s, j, &res, have_meta ? &fm : NULL) == 0 ? RES_OK : RES_REJECT;
            j->decoded = res.decoded;
            j->taken = res.nframes;
            snprintf(j->codec, sizeof j->codec, "%s", res.codec);
            vf_result_free(&res);
        }
    }
    free(dir);
    if (have_meta) fv_meta_free(&fm);
}

/* ---- the queue: jobs in input order, done by workers, written in order ---- */

typedef struct {
    const settings *s;
    sft_run *run;
    sft_out *out;
    int threads; /* decoder threads per video */

    job **ring; /* ring[(head + i) % cap], i < count: in input order */
    size_t cap, head, count, next_pending;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int stopping;
    pthread_t *workers;
    int nworkers;

    sft_strset ids; /* the ids seen */
    uint64_t written;
} queue;

static void *worker_main(void *arg)
{
    queue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        job *j = NULL;
        while (!q->stopping) {
            for (size_t i = q->next_pending; i < q->count; i++) {
                job *c = q->ring[(q->head + i) % q->cap];
                if (c->state == JOB_PENDING) {
                    j = c;
                    q->next_pending = i + 1;
                    break;
                }
            }
            if (j) break;
            pthread_cond_wait(&q->work, &q->mu);
        }
        if (!j) break;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&q->mu);
        run_job(q->s, j, q->threads);
        pthread_mutex_lock(&q->mu);
        j->state = JOB_DONE;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Writes or rejects the finished job. Returns 0 or the exit status. */
static int finish_job(queue *q, job *j)
{
    sft_run *run = q->run;
    switch (j->result) {
    case RES_OK:
        sft_out_write(q->out, j->out_line, strlen(j->out_line));
        sft_out_putc(q->out, '\n');
        run->out++;
        if (run->verbose > 1)
            sft_error_at(j->src, j->line, 0, "%s: %zu frames taken, %zu decoded (%s)", j->id, j->taken, j->decoded,
                         j->codec);
        if (sft_out_error(q->out)) return sft_write_error(sft_out_name(q->out), sft_out_error(q->out));
        return 0;
    case RES_FILTERED:
        run->filtered++;
        if (run->verbose > 1) sft_error_at(j->src, j->line, 0, "filtered: %s", j->why);
        return 0;
    case RES_CANTCREAT:
    case RES_IOERR:
        sft_error("%s", j->why);
        return j->result == RES_CANTCREAT ? SFT_EX_CANTCREAT : SFT_EX_IOERR;
    default:
        return sft_run_reject(run, j->src, j->line, 0, j->text, strlen(j->text), j->why);
    }
}

/* Writes or rejects a finished job, frees it and updates the progress
 * line. Returns 0 or the exit status. */
static int retire(queue *q, job *j)
{
    int status = finish_job(q, j);
    job_free(j);
    sft_run_progress_text(q->run, "%" PRIu64 " videos, %" PRIu64 " written", q->run->in, q->run->out);
    return status;
}

/* Retires the finished jobs at the head of the ring, waiting for the head
 * while want or more jobs are held (want 0: until the ring is empty).
 * Returns 0 or the exit status. */
static int drain(queue *q, size_t want)
{
    int status = 0;
    pthread_mutex_lock(&q->mu);
    while (q->count > 0 && !status) {
        job *j = q->ring[q->head];
        if (j->state != JOB_DONE) {
            if (q->count < want) break;
            pthread_cond_wait(&q->done, &q->mu);
            continue;
        }
        q->head = (q->head + 1) % q->cap;
        q->count--;
        if (q->next_pending > 0) q->next_pending--;
        pthread_mutex_unlock(&q->mu);
        status = retire(q, j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return status;
}

/* Adds a job (done already when its result is known). Returns 0 or a
 * status. */
static int submit(queue *q, job *j)
{
    if (q->nworkers == 0) { /* -j 1: in this thread */
        if (j->state == JOB_PENDING) {
            run_job(q->s, j, q->threads);
            j->state = JOB_DONE;
        }
        return retire(q, j);
    }
    int status = drain(q, q->cap);
    if (status) {
        job_free(j);
        return status;
    }
    pthread_mutex_lock(&q->mu);
    q->ring[(q->head + q->count) % q->cap] = j;
    q->count++;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static job *job_new(const char *src, uint64_t line, const char *text, size_t len)
{
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->src = strdup(src);
    j->line = line;
    j->text = malloc(len + 1);
    if (!j->src || !j->text) {
        job_free(j);
        return NULL;
    }
    memcpy(j->text, text, len);
    j->text[len] = '\0';
    j->state = JOB_PENDING;
    return j;
}

/* Marks j as rejected before it runs. */
static void job_reject(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_reject(job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->why, sizeof j->why, fmt, ap);
    va_end(ap);
    j->result = RES_REJECT;
    j->state = JOB_DONE;
}

/* The id made from a video's path: its file name without the extension. */
static char *id_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return strndup(base, n);
}

/* Why id cannot name a directory, or NULL. */
static const char *bad_id(const char *id)
{
    if (!*id) return "is empty";
    if (strchr(id, '/')) return "contains '/'";
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return "is '.' or '..'";
    if (strlen(id) > 200) return "is longer than 200 bytes";
    if (id[0] == '-') return "starts with '-'";
    return NULL;
}

/* Reads the --meta file of j (with {id} replaced). Returns 0 or -1 (j
 * rejected). */
static int load_meta_file(const settings *s, job *j)
{
    sft_buf path = {0}, b = {0};
    const char *p = s->meta_file;
    int rc = -1;
    for (const char *at; (at = strstr(p, "{id}")); p = at + 4) {
        if (buf_append(&path, p, (size_t)(at - p)) || buf_append(&path, j->id, strlen(j->id))) goto nomem;
    }
    if (buf_append(&path, p, strlen(p) + 1)) goto nomem;
    if (buf_read_file(&b, path.p, (size_t)64 << 20) != 0) {
        job_reject(j, "--meta %s: %s", path.p, strerror(errno));
        goto done;
    }
    cJSON *t = cJSON_ParseWithLength(b.p, b.len);
    if (!t || !cJSON_IsObject(t)) {
        cJSON_Delete(t);
        job_reject(j, "--meta %s: not a JSON object", path.p);
        goto done;
    }
    j->meta_tree = t;
    j->meta = t;
    rc = 0;
    goto done;
nomem:
    job_reject(j, "out of memory");
done:
    buf_free(&path);
    buf_free(&b);
    return rc;
}

/* Checks j's id and gives it metadata from --meta when it has none, then
 * submits it. */
static int prepare_and_submit(queue *q, job *j)
{
    const settings *s = q->s;
    if (j->state == JOB_PENDING) {
        const char *why = bad_id(j->id);
        int fresh;
        if (why) {
            job_reject(j, "id '%s' %s: it names the frames' directory", j->id, why);
        } else if ((fresh = sft_strset_add(&q->ids, j->id)) <= 0) {
            if (fresh < 0) job_reject(j, "out of memory");
            else job_reject(j, "duplicate id '%s': its frames would overwrite those of an earlier video", j->id);
        } else if (!j->meta && s->meta_file) {
            load_meta_file(s, j);
        }
    }
    return submit(q, j);
}

/* A video named on the command line. */
static int add_video(queue *q, const char *path)
{
    q->run->in++;
    job *j = job_new(path, 0, path, strlen(path));
    if (!j || !(j->video = strdup(path)) || !(j->id = id_from_path(path))) {
        job_free(j);
        sft_error("out of memory");
        return SFT_EX_SOFTWARE;
    }
    return prepare_and_submit(q, j);
}

/* A JSON string or integer at path in rec, as a new string; NULL when
 * absent. *bad is set when present with another type. */
/* The value at path in rec (a segment of digits indexes an array, as
 * json_path says), or NULL. */
static const cJSON *field(const cJSON *rec, const json_path *path)
{
    const cJSON *v = rec;
    for (size_t i = 0; i < path->nseg && v; i++) {
        if (cJSON_IsArray(v)) {
            char *end;
            errno = 0;
            unsigned long k = strtoul(path->seg[i], &end, 10);
            v = *end || errno || k > INT_MAX ? NULL : cJSON_GetArrayItem(v, (int)k);
        } else {
            v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, path->seg[i]) : NULL;
        }
    }
    return v;
}

/* The string or integer at path in rec as a new string; NULL when absent
 * or null, with *bad set when present with another type. */
static char *field_text(const cJSON *rec, const json_path *path, int *bad)
{
    const cJSON *v = field(rec, path);
    *bad = 0;
    if (!v || cJSON_IsNull(v)) return NULL;
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15) {
        char buf[32];
        snprintf(buf, sizeof buf, "%.0f", v->valuedouble);
        return strdup(buf);
    }
    *bad = 1;
    return NULL;
}

static int on_record(void *ctx, sft_run *run, const jsonl_reader *r, int kind, const jsonl_record *rec,
                     const jsonl_error *err)
{
    queue *q = ctx;
    const settings *s = q->s;
    run->in++;
    job *j = job_new(jsonl_name(r), rec->line, rec->text ? rec->text : "", rec->text ? rec->len : 0);
    if (!j) goto nomem;
    if (kind == JSONL_BAD) {
        job_reject(j, "%s", err->reason);
        return submit(q, j);
    }
    jsonl_error perr;
    if (!(j->rec = jsonl_parse(rec, &perr))) goto nomem;
    int bad;
    char *video = field_text(j->rec, &s->video_path, &bad);
    if (!video || !*video) {
        free(video);
        job_reject(j, bad ? "the video field is not a string" : "no video field (--video-field)");
        return submit(q, j);
    }
    if (s->video_dir && video[0] != '/') {
        if (asprintf(&j->video, "%s/%s", s->video_dir, video) < 0) j->video = NULL;
        free(video);
    } else {
        j->video = video;
    }
    if (!j->video) goto nomem;
    j->id = field_text(j->rec, &s->id_path, &bad);
    if (bad) {
        job_reject(j, "the id field is not a string or an integer");
        return submit(q, j);
    }
    if (!j->id && !(j->id = id_from_path(j->video))) goto nomem;

    const cJSON *m = field(j->rec, &s->meta_path);
    if (m && cJSON_IsString(m)) { /* metadata stored as JSON text */
        cJSON *t = cJSON_Parse(m->valuestring);
        if (!t || !cJSON_IsObject(t)) {
            cJSON_Delete(t);
            job_reject(j, "the metadata field holds a string that is not a JSON object");
            return submit(q, j);
        }
        j->meta_tree = t;
        j->meta = t;
    } else if (m && cJSON_IsObject(m)) {
        j->meta = m;
    } else if (m && !cJSON_IsNull(m)) {
        job_reject(j, "the metadata field is not an object");
        return submit(q, j);
    }
    return prepare_and_submit(q, j);
nomem:
    job_free(j);
    sft_error("out of memory");
    return SFT_EX_SOFTWARE;
}

/* Whether the file at path holds JSONL (its first byte after a BOM and
 * white space is '{'). */
static int looks_like_jsonl(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[256];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    size_t i = n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF ? 3 : 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) i++;
    return i < n && b[i] == '{';
}

/* Whether FILE names a list of records: "-", a name ending in .jsonl,
 * .ndjson or .json (so that a missing or empty list is one), or a file
 * that starts like JSONL. */
static int is_list(const char *path)
{
    if (strcmp(path, "-") == 0) return 1;
    static const char *const ext[] = {".jsonl", ".ndjson", ".json"};
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && strcasecmp(path + n - e, ext[i]) == 0) return 1;
    }
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && looks_like_jsonl(path);
}

static int parse_color(const char *s, uint8_t rgb[3])
{
    if (s[0] == '#') s++;
    if (strlen(s) != 6) return -1;
    for (int i = 0; i < 6; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i])) return -1;
    unsigned long v = strtoul(s, NULL, 16);
    rgb[0] = (uint8_t)(v >> 16);
    rgb[1] = (uint8_t)(v >> 8);
    rgb[2] = (uint8_t)v;
    return 0;
}

static int parse_seconds(const char *opt, const char *arg, double *out)
{
    if (sft_parse_double(arg, out) != 0 || *out < 0) return sft_bad_option_value(opt, arg);
    return 0;
}

static int run_all(queue *q, sft_run *run, char **args, int nargs)
{
    int status = 0;
    for (int i = 0; i < nargs && !status; i++) {
        const char *a = args[i];
        if (!is_list(a)) {
            status = add_video(q, a);
            continue;
        }
        sft_input *in = NULL;
        size_t nin = 0;
        char *one[1] = {(char *)a};
        if (!(in = sft_inputs_new(one, 1, &nin))) {
            sft_error("out of memory");
            return SFT_EX_SOFTWARE;
        }
        status = sft_inputs_check(in, nin);
        if (!status) status = sft_each_record(run, in, nin, on_record, q);
        sft_inputs_free(in, nin);
    }
    if (nargs == 0) {
        size_t nin = 0;
        sft_input *in = sft_inputs_new(NULL, 0, &nin);
        if (!in) {
            sft_error("out of memory");
            return SFT_EX_SOFTWARE;
        }
        status = sft_each_record(run, in, nin, on_record, q);
        sft_inputs_free(in, nin);
    }
    int st2 = drain(q, 0);
    if (!status) status = st2;
    return status;
}

static int run_main(const settings *s, sft_run *run, const char *output, uint64_t njobs, char **args, int nargs);

int main(int argc, char **argv)
{
    sft_init(argv);
    sft_run run;
    sft_run_init(&run);
    settings s;
    memset(&s, 0, sizeof s);
    vf_options_init(&s.vo);
    s.scenes = -1;
    s.messages = 1;
    const char *output = "-", *id_field = "id", *video_field = "video", *meta_field = "json";
    uint64_t u, njobs = 1;
    int modes = 0, opt, rc;

    while ((opt = getopt_long(argc, argv, "n:o:j:vhV", long_options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (sft_parse_u64(optarg, 1, 10000, &u) != 0) return sft_bad_option_value("frames", optarg);
            s.vo.nframes = (int)u;
            break;
        case OPT_FPS:
            if (sft_parse_double(optarg, &s.vo.fps) != 0 || !(s.vo.fps > 0) || s.vo.fps > 1000)
                return sft_usage_error("invalid value '%s' for --fps: expected a number above 0, at most 1000",
                                       optarg);
            s.vo.mode = VF_FPS;
            modes++;
            break;
        case OPT_SCENE:
            s.vo.mode = VF_SCENE;
            modes++;
            break;
        case OPT_SCENE_THRESHOLD:
            if (sft_parse_double(optarg, &s.vo.scene_threshold) != 0 || s.vo.scene_threshold < 0 ||
                s.vo.scene_threshold > 1)
                return sft_usage_error("invalid value '%s' for --scene-threshold: expected 0..1", optarg);
            break;
        case OPT_MAX_FRAMES:
            if (sft_parse_u64(optarg, 1, 100000, &u) != 0) return sft_bad_option_value("max-frames", optarg);
            s.vo.max_frames = (int)u;
            break;
        case OPT_MAX_SIDE:
            if (sft_parse_u64(optarg, 2, VF_MAX_RES, &u) != 0) return sft_bad_option_value("max-side", optarg);
            s.vo.max_side = (int)u;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "jpg") == 0 || strcmp(optarg, "jpeg") == 0) s.vo.format = VF_JPG;
            else if (strcmp(optarg, "png") == 0) s.vo.format = VF_PNG;
            else return sft_usage_error("invalid value '%s' for --format: expected jpg or png", optarg);
            break;
        case OPT_QUALITY:
            if (sft_parse_u64(optarg, 1, 100, &u) != 0) return sft_bad_option_value("quality", optarg);
            s.vo.quality = (int)u;
            break;
        case OPT_BACKGROUND:
            if (parse_color(optarg, s.vo.background) != 0)
                return sft_usage_error("invalid value '%s' for --background: expected RRGGBB", optarg);
            break;
        case OPT_OUT_DIR: s.out_dir = optarg; break;
        case 'o': output = optarg; break;
        case 'j':
            if (sft_parse_u64(optarg, 1, 256, &njobs) != 0) return sft_bad_option_value("jobs", optarg);
            break;
        case OPT_ID_FIELD: id_field = optarg; break;
        case OPT_VIDEO_FIELD: video_field = optarg; break;
        case OPT_VIDEO_DIR: s.video_dir = optarg; break;
        case OPT_META: s.meta_file = optarg; break;
        case OPT_META_FIELD: meta_field = optarg; break;
        case OPT_PROMPT: s.prompt = optarg; break;
        case OPT_SCENES:
            if (sft_parse_u64(optarg, 0, 100000, &u) != 0) return sft_bad_option_value("scenes", optarg);
            s.scenes = (int)u;
            break;
        case OPT_QA: s.with_qa = 1; break;
        case OPT_NO_MESSAGES: s.messages = 0; break;
        case OPT_MIN_DURATION:
            if ((rc = parse_seconds("min-duration", optarg, &s.min_dur)) != 0) return rc;
            break;
        case OPT_MAX_DURATION:
            if ((rc = parse_seconds("max-duration", optarg, &s.max_dur)) != 0) return rc;
            break;
        case OPT_MIN_RES:
            if (fv_parse_resolution(optarg, &s.min_w, &s.min_h) != 0)
                return sft_usage_error("invalid value '%s' for --min-res: expected WIDTHxHEIGHT", optarg);
            break;
        default:
            if ((rc = sft_standard_option(opt, usage)) >= 0) return rc;
            if ((rc = sft_run_option(&run, opt, optarg)) != 0) return rc;
        }
    }
    if (!s.out_dir) return sft_usage_error("--out-dir is required");
    if (modes > 1) return sft_usage_error("--fps and --scene exclude each other");
    if (s.max_dur > 0 && s.min_dur > s.max_dur) return sft_usage_error("--min-duration is above --max-duration");
    int status = 0;
    if (json_path_parse(&s.id_path, id_field) != 0)
        status = sft_usage_error("invalid field path '%s'", id_field);
    else if (json_path_parse(&s.video_path, video_field) != 0)
        status = sft_usage_error("invalid field path '%s'", video_field);
    else if (json_path_parse(&s.meta_path, meta_field) != 0)
        status = sft_usage_error("invalid field path '%s'", meta_field);
    if (!status) status = run_main(&s, &run, output, njobs, argv + optind, argc - optind);
    json_path_free(&s.id_path);
    json_path_free(&s.video_path);
    json_path_free(&s.meta_path);
    return status;
}

/* Opens the outputs, runs the queue over the inputs and closes. Returns
 * the exit status. */
static int run_main(const settings *s, sft_run *run, const char *output, uint64_t njobs, char **args, int nargs)
{
    vf_quiet(run->verbose);
    int status = 0;
    if (mkdir(s->out_dir, 0777) != 0 && errno != EEXIST) {
        sft_error("%s: cannot create: %s", s->out_dir, strerror(errno));
        return SFT_EX_CANTCREAT;
    }
    sft_out *out = sft_out_open(output);
    if (!out) {
        sft_error("%s: cannot create: %s", output, strerror(errno));
        return SFT_EX_CANTCREAT;
    }
    sft_out_cleanup_on_signals();
    if ((status = sft_run_start(run)) != 0) {
        sft_out_close(out, 0);
        return sft_run_finish(run, status);
    }

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    queue q = {.s = s, .run = run, .out = out};
    /* decoder threads share the cores with the other videos' decoders */
    q.threads = njobs == 1 ? 0 : (int)(cores / (long)njobs > 1 ? cores / (long)njobs : 1);
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.work, NULL);
    pthread_cond_init(&q.done, NULL);
    if (njobs > 1) {
        q.cap = 2 * njobs;
        q.ring = calloc(q.cap, sizeof *q.ring);
        q.workers = calloc(njobs, sizeof *q.workers);
        if (!q.ring || !q.workers) {
            sft_error("out of memory");
            status = SFT_EX_SOFTWARE;
        }
        for (uint64_t i = 0; i < njobs && !status; i++) {
            if (pthread_create(&q.workers[i], NULL, worker_main, &q) != 0) {
                sft_error("cannot start a thread: %s", strerror(errno));
                status = SFT_EX_SOFTWARE;
                break;
            }
            q.nworkers++;
        }
    }
    if (!status) status = run_all(&q, run, args, nargs);

    pthread_mutex_lock(&q.mu);
    q.stopping = 1;
    pthread_cond_broadcast(&q.work);
    pthread_mutex_unlock(&q.mu);
    for (int i = 0; i < q.nworkers; i++) pthread_join(q.workers[i], NULL);
    for (size_t i = 0; i < q.count; i++) job_free(q.ring[(q.head + i) % q.cap]);
    free(q.ring);
    free(q.workers);
    sft_strset_free(&q.ids);
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.work);
    pthread_cond_destroy(&q.done);

    int err = sft_out_close(out, status == 0 || status == SFT_EX_REJECTED);
    if (err && !status) status = sft_write_error(strcmp(output, "-") ? output : "<stdout>", err);
    return sft_run_finish(run, status);
}
