/* Frame sampling with libavformat/libavcodec/libswscale. See frames.h. */
#include "media/frames.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Frames larger than this are refused (a corrupt header, or a fuzzer). */
#define VF_MAX_PIXELS ((int64_t)1 << 26)
#define VF_MAX_SIDE VF_MAX_RES
/* Times a seek that landed after its target is tried again further back. */
#define VF_MAX_RESEEK 12
/* Broken frames in a row after which a video is given up. */
#define VF_MAX_BAD_FRAMES 64
/* The grey image scene detection compares. */
#define VF_SCENE_W 64
#define VF_SCENE_H 36

/* ---- libav's log: kept per thread so errors can name libav's reason ---- */

static _Thread_local char last_av_error[160];
static int av_verbose;

static void log_callback(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level <= AV_LOG_ERROR) {
        va_list copy;
        va_copy(copy, vl);
        int print_prefix = 0;
        char line[sizeof last_av_error];
        av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &print_prefix);
        va_end(copy);
        /* "[mov,mp4 @ 0x...] moov atom not found\n" -> "moov atom not found" */
        const char *msg = line;
        if (msg[0] == '[') {
            const char *close = strstr(msg, "] ");
            if (close) msg = close + 2;
        }
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
        if (n) {
            memcpy(last_av_error, msg, n);
            last_av_error[n] = '\0';
        }
    }
    if (av_verbose > 1) av_log_default_callback(avcl, level, fmt, vl);
}

void vf_quiet(int verbose)
{
    av_verbose = verbose;
    av_log_set_level(verbose > 1 ? AV_LOG_WARNING : AV_LOG_ERROR);
    av_log_set_callback(log_callback);
}

void vf_options_init(vf_options *o)
{
    memset(o, 0, sizeof *o);
    o->mode = VF_EVEN;
    o->nframes = 8;
    o->max_frames = 64;
    o->scene_threshold = 0.3;
    o->format = VF_JPG;
    o->quality = 90;
}

void vf_result_free(vf_result *res)
{
    for (size_t i = 0; i < res->nframes; i++) free(res->frames[i].path);
    free(res->frames);
    memset(res, 0, sizeof *res);
}

/* ---- memory input (the fuzz target) ---- */

typedef struct {
    const uint8_t *data;
    size_t len, pos;
} mem_input;

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    mem_input *m = opaque;
    size_t left = m->len - m->pos;
    if (left == 0) return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    mem_input *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->len;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->len; break;
    default: return AVERROR(EINVAL);
    }
    if (offset > INT64_MAX - base) return AVERROR(EINVAL);
    int64_t to = base + offset;
    if (to < 0 || to > (int64_t)m->len) return AVERROR(EINVAL);
    m->pos = (size_t)to;
    return to;
}

/* A swscale context with what it was made for. */
typedef struct {
    struct SwsContext *ctx;
    int key[10];
} scaler;

/* ---- one video being read ---- */

typedef struct {
    const char *path;  /* NULL for memory input */
    mem_input mem;
    const vf_options *o;
    char *err;
    size_t errlen;

    AVFormatContext *fmt;
    AVIOContext *mio;
    AVStream *st;
    int vidx;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame, *last; /* decoded now; the last one kept (a reference) */
    int have_last;
    int64_t last_pts;
    AVFrame *shown;        /* the frame taken last (times never go back) */
    int have_shown;
    int64_t shown_pts;
    int64_t next_pts;      /* for frames that come without a time */
    int64_t max_pkt_ts;    /* the latest packet time read since the seek */
    int started;           /* something has been decoded or sought */
    int sent_eof, drained;
    int skipped;           /* non-reference frames were skipped since the seek */
    int no_skip;
    int read_error;        /* a packet could not be read (not the end) */
    size_t decoded;
    int bad_in_row;        /* broken frames in a row */
    int out_error;         /* VF_ERR_CREATE or VF_ERR_WRITE when an output failed */

    double tb;             /* seconds per tick */
    int64_t start;         /* pts of the start */
    int64_t tol;           /* ticks a frame may be before its target */
    double duration, fps;

    /* display */
    int32_t matrix[9];
    int have_matrix;

    /* conversion and encoding */
    scaler sws, sws_enc;
    struct SwsContext *sws_grey;
    AVFrame *pic_a, *pic_b; /* pictures being made */
    AVFrame *pic;           /* the one to encode (pic_a or pic_b) */
    AVCodecContext *enc;
    AVPacket *encpkt;
    int64_t encoded;
    uint8_t grey[2][VF_SCENE_W * VF_SCENE_H];
} vf_ctx;

static void set_err(vf_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(vf_ctx *c, const char *fmt, ...)
{
    if (!c->errlen || c->err[0]) return; /* the first reason wins */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
}

static const char *av_reason(int averr, char *buf, size_t len)
{
    av_strerror(averr, buf, len);
    return buf;
}

static void close_input(vf_ctx *c)
{
    avcodec_free_context(&c->dec);
    avformat_close_input(&c->fmt);
    if (c->mio) {
        av_freep(&c->mio->buffer);
        avio_context_free(&c->mio);
    }
}

static void ctx_free(vf_ctx *c)
{
    close_input(c);
    av_packet_free(&c->pkt);
    av_frame_free(&c->frame);
    av_frame_free(&c->last);
    av_frame_free(&c->shown);
    sws_freeContext(c->sws.ctx);
    sws_freeContext(c->sws_enc.ctx);
    sws_freeContext(c->sws_grey);
    av_frame_free(&c->pic_a);
    av_frame_free(&c->pic_b);
    avcodec_free_context(&c->enc);
    av_packet_free(&c->encpkt);
}

static const AVPacketSideData *stream_side_data(const AVStream *st, enum AVPacketSideDataType type)
{
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 30, 100)
    return av_packet_side_data_get(st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, type);
#else
    for (int i = 0; i < st->nb_side_data; i++)
        if (st->side_data[i].type == type) return &st->side_data[i];
    return NULL;
#endif
}

static int frame_interlaced(const AVFrame *f)
{
#ifdef AV_FRAME_FLAG_INTERLACED
    return (f->flags & AV_FRAME_FLAG_INTERLACED) != 0;
#else
    return f->interlaced_frame;
#endif
}

static int frame_top_first(const AVFrame *f)
{
#ifdef AV_FRAME_FLAG_TOP_FIELD_FIRST
    return (f->flags & AV_FRAME_FLAG_TOP_FIELD_FIRST) != 0;
#else
    return f->top_field_first;
#endif
}

/* Rotation (clockwise degrees, a multiple of 90) and mirroring of a
 * display matrix. A mirrored matrix is a rotation followed by a horizontal
 * flip of the rotated picture. */
static void matrix_orientation(const int32_t m[9], int *rotation, int *mirror)
{
    int32_t r[9];
    memcpy(r, m, sizeof r);
    double det = (double)m[0] * m[4] - (double)m[1] * m[3];
    *mirror = det < 0;
    if (*mirror) {
        r[0] = -r[0];
        r[3] = -r[3];
    }
    double a = av_display_rotation_get(r);
    if (isnan(a)) {
        *rotation = 0;
        return;
    }
    /* av_display_rotation_get gives the counter-clockwise angle */
    long q = lround(-a / 90.0);
    *rotation = (int)(((q % 4) + 4) % 4) * 90;
}

/* Opens the input and the decoder of its first video stream. Returns 0 or
 * -1 with the reason set. */
static int open_input(vf_ctx *c)
{
    char buf[128];
    int ret;
    last_av_error[0] = '\0';
    if (!(c->fmt = avformat_alloc_context())) goto nomem;
    if (!c->path) {
        c->mem.pos = 0;
        uint8_t *iobuf = av_malloc(4096);
        if (!iobuf) goto nomem;
        c->mio = avio_alloc_context(iobuf, 4096, 0, &c->mem, mem_read, NULL, mem_seek);
        if (!c->mio) {
            av_free(iobuf);
            goto nomem;
        }
        c->fmt->pb = c->mio;
        c->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    if ((ret = avformat_open_input(&c->fmt, c->path ? c->path : "", NULL, NULL)) < 0) {
        /* avformat_open_input frees the context on failure */
        if (ret == AVERROR_INVALIDDATA || ret == AVERROR_EOF)
            set_err(c, "not a video file, or truncated (%s%s%s)", av_reason(ret, buf, sizeof buf),
                    last_av_error[0] ? ": " : "", last_av_error);
        else
            set_err(c, "cannot open: %s", av_reason(ret, buf, sizeof buf));
        return -1;
    }
    if ((ret = avformat_find_stream_info(c->fmt, NULL)) < 0 && c->fmt->nb_streams == 0) {
        set_err(c, "cannot read the streams: %s", av_reason(ret, buf, sizeof buf));
        return -1;
    }
    c->vidx = -1;
    int naudio = 0;
    for (unsigned i = 0; i < c->fmt->nb_streams; i++) {
        AVStream *s = c->fmt->streams[i];
        if (s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) naudio++;
        if (c->vidx < 0 && s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
            c->vidx = (int)i;
        else
            s->discard = AVDISCARD_ALL;
    }
    if (c->vidx < 0) {
        set_err(c, naudio ? "no video stream (audio only)" : "no video stream");
        return -1;
    }
    c->st = c->fmt->streams[c->vidx];
    AVCodecParameters *par = c->st->codecpar;

    const AVCodec *codec = NULL;
    /* WebM's VP8/VP9 alpha lives beside the picture; only libvpx decodes it */
    AVDictionaryEntry *alpha_mode = av_dict_get(c->st->metadata, "alpha_mode", NULL, 0);
    if (alpha_mode && strcmp(alpha_mode->value, "1") == 0) {
        if (par->codec_id == AV_CODEC_ID_VP9) codec = avcodec_find_decoder_by_name("libvpx-vp9");
        if (par->codec_id == AV_CODEC_ID_VP8) codec = avcodec_find_decoder_by_name("libvpx");
    }
    if (!codec) codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        if (par->codec_id == AV_CODEC_ID_NONE) {
            char tag[AV_FOURCC_MAX_STRING_SIZE];
            av_fourcc_make_string(tag, par->codec_tag);
            set_err(c, "unknown codec '%s'", tag);
        } else {
            set_err(c, "no decoder for codec '%s'", avcodec_get_name(par->codec_id));
        }
        return -1;
    }
    if (par->width <= 0 || par->height <= 0 || par->width > VF_MAX_SIDE || par->height > VF_MAX_SIDE ||
        (int64_t)par->width * par->height > VF_MAX_PIXELS) {
        set_err(c, "unusable frame size %dx%d", par->width, par->height);
        return -1;
    }
    if (!(c->dec = avcodec_alloc_context3(codec))) goto nomem;
    if ((ret = avcodec_parameters_to_context(c->dec, par)) < 0) {
        set_err(c, "codec parameters: %s", av_reason(ret, buf, sizeof buf));
        return -1;
    }
    c->dec->pkt_timebase = c->st->time_base;
    c->dec->thread_count = c->o->threads;
    c->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if ((ret = avcodec_open2(c->dec, codec, NULL)) < 0) {
        set_err(c, "cannot open the %s decoder: %s", codec->name, av_reason(ret, buf, sizeof buf));
        return -1;
    }
    c->sent_eof = c->drained = 0;
    c->started = 0;
    return 0;
nomem:
    set_err(c, "out of memory");
    return -1;
}

/* Reads every packet of the video stream (no decoding) for the end time
 * and the packet count of a video whose container gives no duration. */
static int scan_duration(vf_ctx *c, int64_t *end, int64_t *count)
{
    *end = AV_NOPTS_VALUE;
    *count = 0;
    for (;;) {
        int ret = av_read_frame(c->fmt, c->pkt);
        if (ret < 0) break; /* the end, or where the file stops making sense */
        if (c->pkt->stream_index == c->vidx) {
            int64_t t = c->pkt->pts != AV_NOPTS_VALUE ? c->pkt->pts : c->pkt->dts;
            if (t != AV_NOPTS_VALUE) {
                if (c->pkt->duration > 0) t += c->pkt->duration;
                if (*end == AV_NOPTS_VALUE || t > *end) *end = t;
            }
            ++*count;
        }
        av_packet_unref(c->pkt);
    }
    return 0;
}

/* Duration, frame rate and start of the open video. Returns 0 or -1. */
static int find_timing(vf_ctx *c)
{
    AVStream *st = c->st;
    c->tb = av_q2d(st->time_base);
    if (!(c->tb > 0)) {
        set_err(c, "the video stream has no time base");
        return -1;
    }
    c->start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    double dur = -1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        dur = (double)st->duration * c->tb;
    else if (c->fmt->duration != AV_NOPTS_VALUE && c->fmt->duration > 0 &&
             c->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE)
        dur = (double)c->fmt->duration / AV_TIME_BASE;

    double fps = 0;
    if (st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0) fps = av_q2d(st->avg_frame_rate);
    else if (st->r_frame_rate.num > 0 && st->r_frame_rate.den > 0) fps = av_q2d(st->r_frame_rate);

    if (!(dur > 0)) {
        int64_t end, count;
        scan_duration(c, &end, &count);
        if (end != AV_NOPTS_VALUE && end > c->start) dur = (double)(end - c->start) * c->tb;
        if (!(fps > 0) && count > 0 && dur > 0) fps = (double)count / dur;
        /* back to the start: open again rather than trust a seek */
        close_input(c);
        if (open_input(c) != 0) return -1;
        st = c->st;
    }
    if (!(fps > 0) || fps > 1000) fps = 25; /* a still image in a container, or nonsense */
    if (!(dur > 0)) dur = 1 / fps;          /* one frame, or nothing known: take what is there */
    c->duration = dur;
    c->fps = fps;
    int64_t frame_ticks = (int64_t)llround(1 / (fps * c->tb));
    c->tol = (int64_t)llround(0.001 / c->tb);
    if (c->tol < 1) c->tol = 1;
    if (c->tol > frame_ticks / 10) c->tol = frame_ticks / 10;

    const AVPacketSideData *sd = stream_side_data(st, AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= (int)sizeof c->matrix) {
        memcpy(c->matrix, sd->data, sizeof c->matrix);
        c->have_matrix = 1;
    }
    return 0;
}

/* ---- decoding ---- */

/* The pts of the frame just decoded. A frame without one (the last frame
 * of AVI with B-frames, the first after a seek there) comes after the
 * frame before it and is shown no earlier than the packets read so far:
 * frames skipped in between leave the first guess short. */
static int64_t frame_pts(vf_ctx *c, const AVFrame *f)
{
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) pts = f->pts;
    if (pts == AV_NOPTS_VALUE) {
        pts = c->next_pts != AV_NOPTS_VALUE ? c->next_pts : c->start;
        if (c->max_pkt_ts != AV_NOPTS_VALUE && c->max_pkt_ts > pts) pts = c->max_pkt_ts;
    }
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
    int64_t dur = f->duration;
#else
    int64_t dur = f->pkt_duration;
#endif
    int64_t step = dur > 0 ? dur : (int64_t)llround(1 / (c->fps * c->tb));
    c->next_pts = pts + (step > 0 ? step : 1);
    return pts;
}

/* Decodes the next frame into c->frame. Returns 1, 0 at the end of the
 * stream, -1 on an error (reason set). */
static int decode_next(vf_ctx *c, int64_t target)
{
    char buf[128];
    for (;;) {
        int ret = avcodec_receive_frame(c->dec, c->frame);
        if (ret == 0) {
            c->decoded++;
            c->bad_in_row = 0;
            return 1;
        }
        /* A broken frame (reported here by the decoder's threads) is passed
         * over, unless nothing but broken frames come. */
        if (ret == AVERROR_INVALIDDATA && ++c->bad_in_row <= VF_MAX_BAD_FRAMES) continue;
        if (ret == AVERROR_EOF) {
            c->drained = 1;
            return 0;
        }
        if (ret != AVERROR(EAGAIN)) {
            set_err(c, "decoding failed: %s", av_reason(ret, buf, sizeof buf));
            return -1;
        }
        if (c->sent_eof) { /* EAGAIN after the end: nothing more will come */
            c->drained = 1;
            return 0;
        }
        ret = av_read_frame(c->fmt, c->pkt);
        if (ret < 0) {
            if (ret != AVERROR_EOF) c->read_error = 1;
            avcodec_send_packet(c->dec, NULL);
            c->sent_eof = 1;
            continue;
        }
        if (c->pkt->stream_index != c->vidx) {
            av_packet_unref(c->pkt);
            continue;
        }
        /* Frames shown before the target that nothing refers to need not be
         * decoded at all. */
        int skip = !c->no_skip && target != AV_NOPTS_VALUE && c->pkt->pts != AV_NOPTS_VALUE &&
                   c->pkt->pts < target - c->tol;
        c->dec->skip_frame = skip ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        int64_t ts = c->pkt->pts != AV_NOPTS_VALUE ? c->pkt->pts : c->pkt->dts;
        if (ts != AV_NOPTS_VALUE && (c->max_pkt_ts == AV_NOPTS_VALUE || ts > c->max_pkt_ts)) c->max_pkt_ts = ts;
        c->skipped |= skip;
        /* a broken packet (AVERROR_INVALIDDATA) is passed over: the decoder
         * goes on with the next ones */
        ret = avcodec_send_packet(c->dec, c->pkt);
        av_packet_unref(c->pkt);
        if (ret < 0 && ret != AVERROR_INVALIDDATA && ret != AVERROR(EINVAL)) {
            set_err(c, "decoding failed: %s", av_reason(ret, buf, sizeof buf));
            return -1;
        }
    }
}

static int keep_frame(vf_ctx *c, int64_t pts)
{
    av_frame_unref(c->last);
    if (av_frame_ref(c->last, c->frame) < 0) {
        set_err(c, "out of memory");
        return -1;
    }
    c->have_last = 1;
    c->last_pts = pts;
    return 0;
}

/* For a target past the end: the latest frame, which may be the one
 * taken before when the video's times jump back. */
static int latest(vf_ctx *c)
{
    if (c->have_shown && c->shown_pts > c->last_pts) {
        av_frame_unref(c->last);
        if (av_frame_ref(c->last, c->shown) < 0) {
            set_err(c, "out of memory");
            return -1;
        }
        c->last_pts = c->shown_pts;
    }
    return 0;
}

/* Back to the very start, for demuxers whose seek to the start lands
 * later (MPEG-PS seeks by searching timestamps): by byte position 0, or by
 * opening the input again. Returns 0 or -1. */
static int rewind_input(vf_ctx *c)
{
    if (!(c->fmt->iformat->flags & AVFMT_NO_BYTE_SEEK) && av_seek_frame(c->fmt, -1, 0, AVSEEK_FLAG_BYTE) >= 0) {
        avcodec_flush_buffers(c->dec);
    } else {
        close_input(c);
        if (open_input(c) != 0) return -1;
    }
    c->started = 1;
    c->sent_eof = c->drained = 0;
    c->skipped = 0;
    c->next_pts = c->max_pkt_ts = AV_NOPTS_VALUE;
    c->have_last = 0;
    return 0;
}

static void seek_to(vf_ctx *c, int64_t ts)
{
    int ret = av_seek_frame(c->fmt, c->vidx, ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) ret = avformat_seek_file(c->fmt, c->vidx, INT64_MIN, ts, ts, 0);
    if (ret < 0 && c->started) return; /* cannot seek: decode on from here */
    avcodec_flush_buffers(c->dec);
    c->sent_eof = c->drained = 0;
    c->skipped = 0;
    c->next_pts = c->max_pkt_ts = AV_NOPTS_VALUE;
    c->have_last = 0;
}

/* Whether reaching target means seeking rather than decoding on. */
static int should_seek(vf_ctx *c, int64_t target)
{
    if (!c->started) return target > c->start + c->tol;
    if (c->drained) return 1;
    int64_t here = c->have_last ? c->last_pts : c->start;
    double ahead = (double)(target - here) * c->tb;
    if (ahead <= 0.5) return 0; /* cheaper to decode on than to seek */
    int idx = av_index_search_timestamp(c->st, target, AVSEEK_FLAG_BACKWARD);
    if (idx >= 0) {
        /* A keyframe ahead of what was decoded: seek. (Index times may be
         * decoding times, a little before the pts; some demuxers, such as
         * MPEG-PS, index points that are not keyframes: a seek there that
         * lands after the target is tried again further back.) */
        const AVIndexEntry *e = avformat_index_get_entry(c->st, idx);
        return e && e->timestamp > here;
    }
    /* no index: seeking forward pays when the target is well ahead */
    return ahead > 2.0;
}

/* Leaves in c->last the first frame at or after target (or the last frame
 * of the video when there is none). Returns 0 or -1 (reason set). */
static int frame_at(vf_ctx *c, int64_t target)
{
    if (c->have_last && c->last_pts >= target - c->tol) return 0; /* the same frame again */
    int64_t seek_ts = target;
    int seeks = 0, rewound = 0;
    int after_seek = 0;
    if (should_seek(c, target)) {
        seek_to(c, seek_ts);
        after_seek = 1;
        seeks++;
    }
    c->started = 1;
    int64_t backoff = (int64_t)llround(1.0 / c->tb);
    for (;;) {
        int r = decode_next(c, target);
        if (r < 0) return -1;
        if (r == 0) {
            if (c->have_last) {
                /* the target is past the end */
                if (!c->skipped || c->no_skip) return latest(c);
                /* the last frame may have been one that was skipped: once
                 * more without skipping (once: the seek may fail) */
                c->no_skip = 1;
                seek_to(c, c->last_pts);
                after_seek = 1;
                continue;
            }
            if (after_seek && seeks < VF_MAX_RESEEK && seek_ts > c->start) {
                /* a seek to the very end: go back */
                seek_ts = seek_ts - backoff > c->start ? seek_ts - backoff : c->start;
                backoff *= 2;
                seek_to(c, seek_ts);
                seeks++;
                continue;
            }
            set_err(c, c->read_error ? "truncated or corrupt: no frame could be decoded"
                                     : "no frame could be decoded");
            return -1;
        }
        int64_t pts = frame_pts(c, c->frame);
        if (after_seek) {
            after_seek = 0;
            if (pts > target + c->tol && seeks < VF_MAX_RESEEK && !rewound) {
                /* landed after the target: start further back */
                if (seek_ts > c->start) {
                    int64_t back = (pts < seek_ts ? pts : seek_ts) - backoff;
                    seek_ts = back > c->start ? back : c->start;
                    backoff *= 2;
                    seek_to(c, seek_ts);
                } else { /* even a seek to the start did */
                    if (rewind_input(c) != 0) return -1;
                    rewound = 1;
                }
                after_seek = 1;
                seeks++;
                continue;
            }
        }
        if (pts >= target - c->tol) return keep_frame(c, pts);
        /* before the target: keep the latest, for a target past the end */
        if ((!c->have_last || pts >= c->last_pts) && keep_frame(c, pts) != 0) return -1;
    }
}

/* ---- pictures ---- */

/* Rounded down to even (never above a --max-side), at least 2. */
static int even(double x)
{
    int v = 2 * (int)floor(x / 2 + 1e-9);
    return v < 2 ? 2 : v;
}

/* The width a w pixels wide picture is shown at: times the sample aspect
 * ratio, as players do (the height stays). */
static int display_width(int w, AVRational sar)
{
    double r = sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1.0;
    if (r < 0.01 || r > 100) r = 1.0;
    int dw = (int)lround(w * r);
    return dw < 1 ? 1 : dw;
}

/* The sample aspect ratio of the stream: the container's, else the codec's. */
static AVRational stream_sar(const vf_ctx *c)
{
    if (c->st->sample_aspect_ratio.num > 0 && c->st->sample_aspect_ratio.den > 0)
        return c->st->sample_aspect_ratio;
    return c->st->codecpar->sample_aspect_ratio;
}

static AVRational frame_sar(const vf_ctx *c, const AVFrame *f)
{
    if (f->sample_aspect_ratio.num > 0 && f->sample_aspect_ratio.den > 0) return f->sample_aspect_ratio;
    return stream_sar(c);
}

/* Rotates/mirrors one plane (w x h pixels of bpp bytes) into dst. */
static void orient_plane(const uint8_t *src, int sstride, int w, int h, int bpp, int rotation, int mirror,
                         uint8_t *dst, int dstride)
{
    int ow = rotation % 180 ? h : w, oh = rotation % 180 ? w : h;
    for (int y = 0; y < oh; y++) {
        uint8_t *d = dst + (size_t)y * dstride;
        for (int x = 0; x < ow; x++) {
            int xr = mirror ? ow - 1 - x : x; /* the flip comes after the rotation */
            int sx, sy;
            switch (rotation) {
            case 90: sx = y; sy = h - 1 - xr; break;
            case 180: sx = w - 1 - xr; sy = h - 1 - y; break;
            case 270: sx = w - 1 - y; sy = xr; break;
            default: sx = xr; sy = y;
            }
            memcpy(d + (size_t)x * bpp, src + (size_t)sy * sstride + (size_t)sx * bpp, (size_t)bpp);
        }
    }
}

/* Makes f a writable w x h picture of format fmt. Returns 0 or -1. */
static int picture_alloc(AVFrame *f, enum AVPixelFormat fmt, int w, int h)
{
    if (f->format == fmt && f->width == w && f->height == h && f->buf[0]) return av_frame_make_writable(f);
    av_frame_unref(f);
    f->format = fmt;
    f->width = w;
    f->height = h;
    return av_frame_get_buffer(f, 0);
}

/* A context converting sw x sh of sfmt to dw x dh of dfmt, made again only
 * when one of these changes. The ranges (1: full) are set before the
 * context is initialised: swscale chooses its unscaled copy paths then
 * and would ignore a range set afterwards. cs is the source's colour
 * matrix (SWS_CS_*); YUV results are BT.601, as JPEG's are. */
static struct SwsContext *scaler_get(scaler *s, int sw, int sh, int sfmt, int dw, int dh, int dfmt, int flags,
                                     int srange, int drange, int cs)
{
    int key[10] = {sw, sh, sfmt, dw, dh, dfmt, flags, srange, drange, cs};
    if (s->ctx && memcmp(key, s->key, sizeof key) == 0) return s->ctx;
    sws_freeContext(s->ctx);
    struct SwsContext *x = s->ctx = sws_alloc_context();
    if (!x) return NULL;
    if (av_opt_set_int(x, "srcw", sw, 0) < 0 || av_opt_set_int(x, "srch", sh, 0) < 0 ||
        av_opt_set_int(x, "src_format", sfmt, 0) < 0 || av_opt_set_int(x, "dstw", dw, 0) < 0 ||
        av_opt_set_int(x, "dsth", dh, 0) < 0 || av_opt_set_int(x, "dst_format", dfmt, 0) < 0 ||
        av_opt_set_int(x, "sws_flags", flags, 0) < 0 || av_opt_set_int(x, "src_range", srange, 0) < 0 ||
        av_opt_set_int(x, "dst_range", drange, 0) < 0 || sws_init_context(x, NULL, NULL) < 0) {
        sws_freeContext(x);
        s->ctx = NULL;
        return NULL;
    }
    sws_setColorspaceDetails(x, sws_getCoefficients(cs), srange, sws_getCoefficients(SWS_CS_ITU601), drange, 0,
                             1 << 16, 1 << 16);
    memcpy(s->key, key, sizeof key);
    return x;
}

/* The colour matrix a YUV frame names; without one BT.601, as FFmpeg and
 * OpenCV read such streams (and as FFmpeg writes them). */
static int frame_matrix(const AVFrame *f)
{
    int cs = f->colorspace;
    if (cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_RESERVED || cs > AVCOL_SPC_BT2020_CL) cs = SWS_CS_ITU601;
    if (cs == AVCOL_SPC_SMPTE170M) cs = SWS_CS_ITU601; /* the same matrix */
    return cs;
}

static int frame_full_range(const AVFrame *f)
{
    return f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P ||
           f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P ||
           f->format == AV_PIX_FMT_YUVJ440P || f->format == AV_PIX_FMT_YUVJ411P;
}

/* Converts c->last into c->pic, ready for the encoder: the shown size,
 * square pixels, alpha laid on the background, oriented; full-range YUV
 * 4:2:0 for JPEG, RGB for PNG. The usual case (no alpha) is one swscale
 * pass straight into the encoder's format. Returns 0 or -1. */
static int to_picture(vf_ctx *c)
{
    const AVFrame *f = c->last;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    if (!desc || f->width <= 0 || f->height <= 0 || f->width > VF_MAX_SIDE || f->height > VF_MAX_SIDE ||
        (int64_t)f->width * f->height > VF_MAX_PIXELS) {
        set_err(c, "unusable decoded frame");
        return -1;
    }
    if (!sws_isSupportedInput(f->format)) {
        set_err(c, "pixel format %s cannot be converted", desc->name);
        return -1;
    }
    int alpha = (desc->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
    int is_rgb = (desc->flags & AV_PIX_FMT_FLAG_RGB) != 0;

    /* An interlaced frame is shown from its first field only: no combing. */
    int field = frame_interlaced(f) && f->height >= 4;
    int src_h = field ? f->height / 2 : f->height;

    int dw = display_width(f->width, frame_sar(c, f)), dh = f->height;
    double scale = 1.0;
    int longer = dw > dh ? dw : dh;
    if (c->o->max_side > 0 && longer > c->o->max_side) scale = (double)c->o->max_side / longer;
    int w = even(dw * scale), h = even(dh * scale);

    int jpg = c->o->format == VF_JPG;
    enum AVPixelFormat out_fmt = jpg ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24;
    int cs = is_rgb ? SWS_CS_ITU601 : frame_matrix(f);
    /* Straight into JPEG's YUV only when no matrix changes (swscale does
     * not convert matrices from YUV to YUV); else through RGB. */
    enum AVPixelFormat conv_fmt = alpha                                    ? AV_PIX_FMT_RGBA
                                  : out_fmt == AV_PIX_FMT_YUV420P && cs != SWS_CS_ITU601 ? AV_PIX_FMT_RGB24
                                                                                         : out_fmt;
    int conv_flags = SWS_BICUBIC | SWS_ACCURATE_RND | (conv_fmt == AV_PIX_FMT_YUV420P ? 0 : SWS_FULL_CHR_H_INT);
    struct SwsContext *sws = scaler_get(&c->sws, f->width, src_h, f->format, w, h, conv_fmt, conv_flags,
                                        is_rgb || frame_full_range(f), 1, cs);
    if (!sws) {
        set_err(c, "cannot convert %s %dx%d", desc->name, f->width, f->height);
        return -1;
    }

    const uint8_t *src[4];
    int stride[4];
    int first_bottom = field && !frame_top_first(f);
    int planes = av_pix_fmt_count_planes(f->format);
    for (int p = 0; p < 4; p++) {
        src[p] = f->data[p];
        stride[p] = f->linesize[p];
        if (field && p < planes && f->data[p]) {
            if (first_bottom) src[p] += f->linesize[p];
            stride[p] *= 2;
        }
    }
    AVFrame *conv = c->pic_a;
    if (picture_alloc(conv, conv_fmt, w, h) < 0) goto nomem;
    if (sws_scale(sws, src, stride, 0, src_h, conv->data, conv->linesize) != h) {
        set_err(c, "conversion of a frame failed");
        return -1;
    }
    if (alpha) { /* lay RGBA on the background */
        AVFrame *rgb = c->pic_b;
        if (picture_alloc(rgb, AV_PIX_FMT_RGB24, w, h) < 0) goto nomem;
        const uint8_t *bg = c->o->background;
        for (int y = 0; y < h; y++) {
            const uint8_t *s = conv->data[0] + (size_t)y * conv->linesize[0];
            uint8_t *d = rgb->data[0] + (size_t)y * rgb->linesize[0];
            for (int x = 0; x < w; x++, s += 4, d += 3) {
                unsigned a = s[3];
                for (int k = 0; k < 3; k++) d[k] = (uint8_t)((s[k] * a + bg[k] * (255 - a) + 127) / 255);
            }
        }
        c->pic_b = conv;
        c->pic_a = conv = rgb;
    }
    if (conv->format != out_fmt) { /* RGB into JPEG's YUV */
        AVFrame *yuv = c->pic_b;
        struct SwsContext *enc = scaler_get(&c->sws_enc, w, h, AV_PIX_FMT_RGB24, w, h, out_fmt,
                                            SWS_BICUBIC | SWS_ACCURATE_RND, 1, 1, SWS_CS_ITU601);
        if (!enc || picture_alloc(yuv, out_fmt, w, h) < 0) goto nomem;
        sws_scale(enc, (const uint8_t *const *)conv->data, conv->linesize, 0, h, yuv->data, yuv->linesize);
        c->pic_b = conv;
        c->pic_a = conv = yuv;
    }

    int rotation = 0, mirror = 0;
    const AVFrameSideData *fsd = av_frame_get_side_data(f, AV_FRAME_DATA_DISPLAYMATRIX);
    if (fsd && fsd->size >= (int)(9 * sizeof(int32_t))) {
        int32_t m[9];
        memcpy(m, fsd->data, sizeof m);
        matrix_orientation(m, &rotation, &mirror);
    } else if (c->have_matrix) {
        matrix_orientation(c->matrix, &rotation, &mirror);
    }
    c->pic = conv;
    if (rotation || mirror) {
        AVFrame *r = conv == c->pic_a ? c->pic_b : c->pic_a;
        int ow = rotation % 180 ? h : w, oh = rotation % 180 ? w : h;
        if (picture_alloc(r, out_fmt, ow, oh) < 0) goto nomem;
        int np = out_fmt == AV_PIX_FMT_YUV420P ? 3 : 1;
        for (int p = 0; p < np; p++) {
            int sub = p ? 1 : 0; /* the chroma planes of 4:2:0 are half size */
            orient_plane(conv->data[p], conv->linesize[p], w >> sub, h >> sub, out_fmt == AV_PIX_FMT_RGB24 ? 3 : 1,
                         rotation, mirror, r->data[p], r->linesize[p]);
        }
        c->pic = r;
    }
    return 0;
nomem:
    set_err(c, "out of memory");
    return -1;
}

/* Encodes c->pic as JPEG or PNG into a new packet in c->encpkt. */
static int encode_picture(vf_ctx *c)
{
    char buf[128];
    AVFrame *pic = c->pic;
    int jpg = c->o->format == VF_JPG;
    int ret;
    if (c->enc && (c->enc->width != pic->width || c->enc->height != pic->height)) avcodec_free_context(&c->enc);
    if (!c->enc) {
        const AVCodec *codec = avcodec_find_encoder(jpg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG);
        if (!codec) {
            set_err(c, "libavcodec has no %s encoder", jpg ? "MJPEG" : "PNG");
            return -1;
        }
        if (!(c->enc = avcodec_alloc_context3(codec))) goto nomem;
        c->enc->width = pic->width;
        c->enc->height = pic->height;
        c->enc->pix_fmt = pic->format;
        c->enc->time_base = (AVRational){1, 25};
        c->enc->thread_count = 1;
        if (jpg) {
            /* full-range 4:2:0 (the YUVJ formats are deprecated) */
            c->enc->color_range = AVCOL_RANGE_JPEG;
            c->enc->flags |= AV_CODEC_FLAG_QSCALE;
            /* quality 100..1 -> JPEG qscale 2..31 */
            int q = 2 + (int)lround((100 - c->o->quality) * 29.0 / 99.0);
            c->enc->global_quality = q * FF_QP2LAMBDA;
        }
        if ((ret = avcodec_open2(c->enc, codec, NULL)) < 0) {
            set_err(c, "cannot open the %s encoder: %s", codec->name, av_reason(ret, buf, sizeof buf));
            return -1;
        }
    }
    if (!c->encpkt && !(c->encpkt = av_packet_alloc())) goto nomem;
    if (jpg) {
        pic->quality = c->enc->global_quality;
        pic->color_range = AVCOL_RANGE_JPEG;
    }
    pic->pts = c->encoded++; /* the encoders want rising times */
    if ((ret = avcodec_send_frame(c->enc, pic)) < 0 || (ret = avcodec_receive_packet(c->enc, c->encpkt)) < 0) {
        set_err(c, "encoding failed: %s", av_reason(ret, buf, sizeof buf));
        return -1;
    }
    /* MJPEG and PNG code each picture alone and hold none back, so the
     * encoder takes the next picture without being flushed */
    return 0;
nomem:
    set_err(c, "out of memory");
    return -1;
}

static int write_file(vf_ctx *c, const char *path, const uint8_t *data, size_t len)
{
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp", dirlen, path, slash ? slash + 1 : path) >= (int)sizeof tmp) {
        set_err(c, "%s: path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        set_err(c, "%s: cannot create: %s", tmp, strerror(errno));
        c->out_error = VF_ERR_CREATE;
        return -1;
    }
    size_t n = fwrite(data, 1, len, f);
    int bad = n != len || ferror(f);
    int err = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad) err = errno;
        unlink(tmp);
        set_err(c, "%s: write error: %s", path, strerror(err));
        c->out_error = VF_ERR_WRITE;
        return -1;
    }
    return 0;
}

/* Converts, encodes and writes (with out_dir) c->last as sample k. */
static int emit(vf_ctx *c, const char *out_dir, vf_result *res, int64_t pts)
{
    if (to_picture(c) != 0 || encode_picture(c) != 0) return -1;
    av_frame_unref(c->shown);
    if (av_frame_ref(c->shown, c->last) < 0) {
        set_err(c, "out of memory");
        return -1;
    }
    c->have_shown = 1;
    c->shown_pts = pts;
    size_t k = res->nframes;
    vf_frame *fr = realloc(res->frames, (k + 1) * sizeof *fr);
    if (!fr) {
        set_err(c, "out of memory");
        return -1;
    }
    res->frames = fr;
    fr[k].t = (double)(pts - c->start) * c->tb;
    if (fr[k].t < 0) fr[k].t = 0;
    fr[k].path = NULL;
    res->nframes = k + 1;
    int rc = 0;
    if (out_dir) {
        if (asprintf(&fr[k].path, "%s/%zu.%s", out_dir, k, c->o->format == VF_JPG ? "jpg" : "png") < 0) {
            fr[k].path = NULL;
            set_err(c, "out of memory");
            rc = -1;
        } else {
            rc = write_file(c, fr[k].path, c->encpkt->data, (size_t)c->encpkt->size);
        }
    }
    av_packet_unref(c->encpkt);
    return rc;
}

/* The mean absolute difference (0..1) between c->last and the previous
 * frame given here, on small grey images. */
static int scene_score(vf_ctx *c, int first, double *score)
{
    const AVFrame *f = c->last;
    c->sws_grey = sws_getCachedContext(c->sws_grey, f->width, f->height, f->format, VF_SCENE_W, VF_SCENE_H,
                                       AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
    if (!c->sws_grey) {
        set_err(c, "cannot convert %s for scene detection", av_get_pix_fmt_name(f->format));
        return -1;
    }
    memcpy(c->grey[0], c->grey[1], sizeof c->grey[0]);
    uint8_t *dst[4] = {c->grey[1], NULL, NULL, NULL};
    int stride[4] = {VF_SCENE_W, 0, 0, 0};
    sws_scale(c->sws_grey, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
    if (first) {
        *score = 1;
        return 0;
    }
    uint64_t sum = 0;
    for (int i = 0; i < VF_SCENE_W * VF_SCENE_H; i++) sum += (uint64_t)abs(c->grey[1][i] - c->grey[0][i]);
    *score = (double)sum / (255.0 * VF_SCENE_W * VF_SCENE_H);
    return 0;
}

static int run_scene(vf_ctx *c, const char *out_dir, vf_result *res)
{
    c->started = 1;
    c->no_skip = 1;
    int first = 1;
    for (;;) {
        int r = decode_next(c, AV_NOPTS_VALUE);
        if (r < 0) return -1;
        if (r == 0) break;
        if (first && c->frame->best_effort_timestamp != AV_NOPTS_VALUE)
            c->start = c->frame->best_effort_timestamp; /* see first_frame */
        int64_t pts = frame_pts(c, c->frame);
        if (c->have_shown && pts <= c->shown_pts) continue; /* times that jump back */
        if (keep_frame(c, pts) != 0) return -1;
        double score;
        if (scene_score(c, first, &score) != 0) return -1;
        if (first || score > c->o->scene_threshold) {
            if (emit(c, out_dir, res, pts) != 0) return -1;
            if (res->nframes >= (size_t)c->o->max_frames) break;
        }
        first = 0;
    }
    if (res->nframes == 0) {
        set_err(c, c->read_error ? "truncated or corrupt: no frame could be decoded" : "no frame could be decoded");
        return -1;
    }
    return 0;
}

/* Decodes the first frame, whose time is the start: the stream's start
 * time can be off by the decoder's delay (AVI with B-frames, where the
 * first frame comes out at one frame's time). Returns 0 or -1. */
static int first_frame(vf_ctx *c)
{
    c->started = 1;
    int r = decode_next(c, AV_NOPTS_VALUE);
    if (r < 0) return -1;
    if (r == 0) {
        set_err(c, c->read_error ? "truncated or corrupt: no frame could be decoded" : "no frame could be decoded");
        return -1;
    }
    if (c->frame->best_effort_timestamp != AV_NOPTS_VALUE) c->start = c->frame->best_effort_timestamp;
    return keep_frame(c, frame_pts(c, c->frame));
}

/* Target times in ticks for VF_EVEN and VF_FPS; returns their number. */
static size_t targets(const vf_ctx *c, int64_t **out)
{
    const vf_options *o = c->o;
    size_t n;
    if (o->mode == VF_EVEN) {
        n = (size_t)o->nframes;
    } else {
        double count = ceil(c->duration * o->fps - 1e-9);
        if (count < 1) count = 1;
        n = count > o->max_frames ? (size_t)o->max_frames : (size_t)count;
    }
    int64_t *t = malloc(n * sizeof *t);
    if (!t) return 0;
    int64_t frames = (int64_t)llround(c->duration * c->fps);
    if (frames < 1) frames = 1;
    for (size_t k = 0; k < n; k++) {
        double sec;
        if (o->mode == VF_EVEN) {
            int64_t idx = n > 1 ? (int64_t)((double)k * (double)(frames - 1) / (double)(n - 1)) : 0;
            sec = (double)idx / c->fps;
        } else {
            sec = (double)k / o->fps;
        }
        t[k] = c->start + (int64_t)llround(sec / c->tb);
    }
    *out = t;
    return n;
}

static int run(vf_ctx *c, const char *out_dir, vf_result *res)
{
    if (!(c->pkt = av_packet_alloc()) || !(c->frame = av_frame_alloc()) || !(c->last = av_frame_alloc()) ||
        !(c->shown = av_frame_alloc()) || !(c->pic_a = av_frame_alloc()) || !(c->pic_b = av_frame_alloc())) {
        set_err(c, "out of memory");
        return -1;
    }
    c->next_pts = c->max_pkt_ts = AV_NOPTS_VALUE;
    if (open_input(c) != 0 || find_timing(c) != 0) return -1;

    AVCodecParameters *par = c->st->codecpar;
    int dw = display_width(par->width, stream_sar(c)), dh = par->height, rotation = 0, mirror = 0;
    if (c->have_matrix) matrix_orientation(c->matrix, &rotation, &mirror);
    res->duration = c->duration;
    res->fps = c->fps;
    res->width = rotation % 180 ? dh : dw;
    res->height = rotation % 180 ? dw : dh;
    snprintf(res->codec, sizeof res->codec, "%s", c->dec->codec->name);

    const vf_options *o = c->o;
    if (o->min_duration > 0 && c->duration < o->min_duration) {
        set_err(c, "duration %.1f s < %g s", c->duration, o->min_duration);
        return 1;
    }
    if (o->max_duration > 0 && c->duration > o->max_duration) {
        set_err(c, "duration %.1f s > %g s", c->duration, o->max_duration);
        return 1;
    }
    if ((o->min_width > 0 && res->width < o->min_width) || (o->min_height > 0 && res->height < o->min_height)) {
        set_err(c, "resolution %dx%d below %dx%d", res->width, res->height, o->min_width, o->min_height);
        return 1;
    }

    if (out_dir && mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        set_err(c, "%s: cannot create: %s", out_dir, strerror(errno));
        c->out_error = VF_ERR_CREATE;
        return -1;
    }
    int rc = 0;
    if (c->o->mode == VF_SCENE) {
        rc = run_scene(c, out_dir, res);
    } else if (first_frame(c) != 0) {
        rc = -1;
    } else {
        int64_t *t = NULL;
        size_t n = targets(c, &t);
        if (!n) {
            set_err(c, "out of memory");
            return -1;
        }
        for (size_t k = 0; k < n && rc == 0; k++) {
            rc = frame_at(c, t[k]);
            if (rc == 0) rc = emit(c, out_dir, res, c->last_pts);
        }
        free(t);
    }
    res->decoded = c->decoded;
    return rc;
}

static int extract(vf_ctx *c, const char *out_dir, vf_result *res)
{
    memset(res, 0, sizeof *res);
    if (c->errlen) c->err[0] = '\0';
    int rc = run(c, out_dir, res);
    if (rc < 0 && c->out_error) rc = c->out_error;
    if (rc != 0) {
        if (c->errlen && !c->err[0]) snprintf(c->err, c->errlen, "failed");
        vf_result_free(res);
    }
    ctx_free(c);
    return rc;
}

int vf_extract(const char *path, const char *out_dir, const vf_options *o, vf_result *res, char *err,
               size_t errlen)
{
    vf_ctx c = {.path = path, .o = o, .err = err, .errlen = errlen};
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0) {
        memset(res, 0, sizeof *res);
        if (errlen) snprintf(err, errlen, "empty file");
        return -1;
    }
    return extract(&c, out_dir, res);
}

int vf_extract_mem(const void *data, size_t len, const char *out_dir, const vf_options *o, vf_result *res,
                   char *err, size_t errlen)
{
    vf_ctx c = {.path = NULL, .mem = {data, len, 0}, .o = o, .err = err, .errlen = errlen};
    if (len == 0) {
        memset(res, 0, sizeof *res);
        if (errlen) snprintf(err, errlen, "empty file");
        return -1;
    }
    return extract(&c, out_dir, res);
}
