/* Frame sampling from video files with FFmpeg's libraries (libavformat,
 * libavcodec, libswscale): exact frames at chosen times without decoding
 * the whole video, shown as a player shows them, written as JPEG or PNG.
 *
 * What is taken (vf_options.mode):
 *   VF_EVEN   n frames evenly spaced over the video, the rule of the common
 *             linspace(0, F-1, n) over the F frames: sample k (0-based) is
 *             frame floor(k * (F-1) / (n-1)) (k = 0 when n = 1), at time
 *             start + that index / fps. F = round(duration * fps).
 *   VF_FPS    one frame every 1/fps seconds from the start, while the time
 *             is below the end, at most max_frames.
 *   VF_SCENE  the first frame, then every frame whose difference from the
 *             frame before (mean absolute difference of 64x36 grey images,
 *             0..1) is above scene_threshold, at most max_frames. This mode
 *             decodes every frame.
 * For a target time the frame taken is the first one shown at or after it
 * (presentation time >= target, in the stream's time base); a target past
 * the last frame takes the last frame. Times are measured from the video
 * stream's start time.
 *
 * How (VF_EVEN, VF_FPS): seek to the keyframe before the target and decode
 * forward; when that keyframe is not ahead of what was decoded last, go on
 * decoding instead. Frames before a target that no other frame refers to
 * are not decoded (the decoder's skip of non-reference frames, switched
 * off before a packet whose time reaches the target).
 *
 * Display: the rotation of the display matrix (stream or frame side data;
 * rounded to a multiple of 90 degrees, with its mirror) is applied,
 * non-square pixels are made square (the width is multiplied by the
 * sample aspect ratio, as players do), interlaced frames are shown from
 * their first field (no combing), alpha is laid over the background
 * colour, and any pixel format and bit depth that swscale reads is
 * converted. The size is the display size, scaled down (never up) so that
 * its longer side is at most max_side, and rounded to even numbers.
 *
 * Duration: the video stream's duration, else the container's (not when
 * the container's is guessed from the bit rate), else the end of the last
 * video packet, found by reading the packets (no decoding). Frame rate:
 * the stream's average rate, else its base rate, else frames / duration.
 *
 * Audio, subtitle and data streams are ignored; only the first video
 * stream that is not a cover picture is read.
 *
 * Nothing here prints or exits. Every function is safe to call from
 * several threads at once on different videos. */
#ifndef SFT_MEDIA_FRAMES_H
#define SFT_MEDIA_FRAMES_H

#include <stddef.h>
#include <stdint.h>

typedef enum { VF_EVEN, VF_FPS, VF_SCENE } vf_mode;
typedef enum { VF_JPG, VF_PNG } vf_format;

typedef struct {
    vf_mode mode;
    int nframes;            /* VF_EVEN: >= 1 */
    double fps;             /* VF_FPS: > 0 */
    int max_frames;         /* VF_FPS, VF_SCENE: >= 1 */
    double scene_threshold; /* VF_SCENE: 0..1 */
    int max_side;           /* 0 keeps the display size */
    vf_format format;
    int quality;            /* JPEG quality 1..100 */
    uint8_t background[3];  /* RGB under transparent pixels */
    int threads;            /* decoder threads; 0: as many as cores */
    /* Filters on the opened video, checked before anything is decoded; a
     * bound <= 0 is not applied. */
    double min_duration, max_duration; /* seconds */
    int min_width, min_height;          /* display size */
} vf_options;

/* The largest width, height or --max-side the tools accept. */
#define VF_MAX_RES 16384

/* Sets the defaults: VF_EVEN with 8 frames, max_frames 64, threshold 0.3,
 * JPEG quality 90, black background, threads 0, no filters. */
void vf_options_init(vf_options *o);

typedef struct {
    double t;     /* presentation time in seconds from the start */
    char *path;   /* the file written (NULL when no directory was given) */
} vf_frame;

typedef struct {
    double duration;    /* seconds */
    int width, height;  /* display size (after aspect ratio and rotation) */
    double fps;
    char codec[32];     /* the decoder's name */
    vf_frame *frames;
    size_t nframes;
    size_t decoded;     /* frames the decoder returned (for benchmarks) */
} vf_result;

/* Takes the frames of the video at path as o says and writes frame k
 * (0-based) to out_dir/k.jpg (or .png), creating out_dir (not its parents)
 * when missing; each file is written under a temporary name and renamed.
 * out_dir NULL encodes the frames but writes nothing.
 *
 * Returns 0 with *res filled (free it with vf_result_free()); 1 when a
 * filter of o drops the video, with *res empty, nothing written and the
 * reason in err ("duration 12.0 s < 30 s", "resolution 426x240 below
 * 640x360"); VF_ERR_CREATE or VF_ERR_WRITE when out_dir or a frame's file
 * cannot be created or written (the reason names it: the output is at
 * fault, not the video); or -1 with *res empty and the reason in err (when
 * errlen > 0), such as "no video
 * stream", "unknown codec 'xyz'", "truncated or corrupt: no frame could
 * be decoded", "not a video file (Invalid data found when processing
 * input)", "empty file", or a write error naming the file. */
enum { VF_ERR_CREATE = -2, VF_ERR_WRITE = -3 };

int vf_extract(const char *path, const char *out_dir, const vf_options *o, vf_result *res, char *err,
               size_t errlen);

/* The same for a video held in memory (data[0..len), read through a
 * custom I/O context that seeks). Used by the fuzz target. */
int vf_extract_mem(const void *data, size_t len, const char *out_dir, const vf_options *o,
                   vf_result *res, char *err, size_t errlen);

/* Frees what vf_extract() filled and empties *res. Safe on an emptied or
 * zeroed vf_result. */
void vf_result_free(vf_result *res);

/* Silences libav's own log lines (they would go to stderr). Call once at
 * start; the tools pass verbose > 1 to keep libav's warnings. */
void vf_quiet(int verbose);

#endif
