/* libFuzzer target for lib/media/frames.h: the input as a video file in
 * memory, through the whole demux, seek, decode, convert and encode path
 * (vf_extract_mem: 3 evenly spaced frames scaled to at most 32 pixels, then
 * 2 frames by --fps, then scene detection; nothing written).
 *
 * Oracles, beyond "no crash, no leak, no sanitizer report, no hang":
 *  - on success: the frames asked for, times that never go back and lie
 *    within [0, duration], a positive duration, frame rate and size;
 *  - on failure: an empty result and a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, const vf_result *r, const char *err, size_t want)
{
    if (rc < 0) {
        if (!err[0] || r->nframes || r->frames) abort();
        return;
    }
    if (rc > 0) abort(); /* no filters were set */
    if (!(r->duration > 0) || !(r->fps > 0) || r->width < 1 || r->height < 1) abort();
    if (want && r->nframes != want) abort();
    if (!want && (r->nframes < 1 || r->nframes > 4)) abort();
    for (size_t k = 0; k < r->nframes; k++) {
        if (r->frames[k].path) abort();
        if (r->frames[k].t < 0) abort();
        if (k && r->frames[k].t < r->frames[k - 1].t) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        vf_quiet(0);
        quiet = 1;
    }
    vf_options o;
    vf_options_init(&o);
    o.nframes = 3;
    o.max_side = 32;
    o.threads = 1;
    vf_result r;
    char err[256];

    err[0] = '\0';
    int rc = vf_extract_mem(data, size, NULL, &o, &r, err, sizeof err);
    check(rc, &r, err, 3);
    vf_result_free(&r);
    if (rc != 0) return 0;

    o.mode = VF_FPS;
    o.fps = 10;
    o.max_frames = 2;
    o.format = VF_PNG;
    err[0] = '\0';
    rc = vf_extract_mem(data, size, NULL, &o, &r, err, sizeof err);
    check(rc, &r, err, 0);
    vf_result_free(&r);

    o.mode = VF_SCENE;
    o.max_frames = 4;
    o.scene_threshold = 0.1;
    err[0] = '\0';
    rc = vf_extract_mem(data, size, NULL, &o, &r, err, sizeof err);
    check(rc, &r, err, 0);
    vf_result_free(&r);
    return 0;
}
