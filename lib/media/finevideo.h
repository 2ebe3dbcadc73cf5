/* FineVideo metadata: parsing, the filters users apply, and the SFT
 * conversation built from it.
 *
 * A FineVideo record's metadata (its "json" column) looks like
 *
 *   {"duration_seconds": 208, "resolution": "640x360",
 *    "youtube_title": "...",
 *    "content_metadata": {"title": "...", "description": "...",
 *      "scenes": [{"sceneId": 1, "title": "...",
 *                  "timestamps": {"start_timestamp": "00:00:00.000",
 *                                 "end_timestamp": "00:00:28.779"},
 *                  "activities": [{"description": "...",
 *                                  "timestamp": {"start_timestamp": ...,
 *                                                "end_timestamp": ...}}]}],
 *      "qAndA": [{"question": "...", "answer": "..."}]}}
 *
 * Note "timestamps" on scenes but "timestamp" on activities. Every other
 * field is ignored.
 *
 * Parsing rules (fv_parse):
 *   - A missing field, or one that is null, is absent: every field is
 *     optional.
 *   - A field present with the wrong JSON type is an error naming its path
 *     (e.g. "content_metadata.scenes[2].title is not a string"), as is a
 *     "resolution" string that is not WIDTHxHEIGHT with positive integers.
 *     sceneId is the one exception: it is kept when it is a number and
 *     ignored otherwise.
 *   - A timestamp string that does not parse (see fv_parse_timestamp) is
 *     NOT an error: that time becomes unknown and fv_meta.nbad_ts counts
 *     it, so one odd timestamp does not lose a whole video.
 *
 * The conversation (fv_conversation) is a JSON array of messages in the
 * shape of schemas/sft-example.schema.json:
 *
 *   [{"role":"user","content":[{"type":"image","path":FRAME_1}, ...,
 *                              {"type":"image","path":FRAME_N},
 *                              {"type":"text","text":PROMPT}]},
 *    {"role":"assistant","content":ASSISTANT_TEXT},
 *    then, with with_qa, for each Q&A pair in order:
 *    {"role":"user","content":QUESTION},
 *    {"role":"assistant","content":ANSWER}]
 *
 * ASSISTANT_TEXT, the contract models are trained on, is made of blocks
 * joined by one blank line ("\n\n"), with no newline at the end:
 *
 *   TITLE
 *
 *   DESCRIPTION
 *
 *   Scene 1 (00:00–00:28): SCENE TITLE
 *   - [00:00] ACTIVITY DESCRIPTION
 *   - [00:09] ACTIVITY DESCRIPTION
 *
 *   Scene 2 (00:28–01:05): SCENE TITLE
 *   - [00:30] ACTIVITY DESCRIPTION
 *
 *   - TITLE is content_metadata.title, or youtube_title when that is
 *     absent or empty. DESCRIPTION is content_metadata.description.
 *   - One scene block for each of the first nscenes scenes, in the order
 *     of the metadata (nscenes < 0: all of them; 0: none). N counts the
 *     scenes from 1 in that order (sceneId is not used). The header is
 *     "Scene N (START–END): SCENE TITLE", the dash U+2013 EN DASH. When
 *     either time is unknown the parenthesis is left out ("Scene N: TITLE");
 *     when the scene has no title, ": TITLE" is left out.
 *   - Then one line per activity with a description, in order:
 *     "- [START] DESCRIPTION", or "- DESCRIPTION" when its start time is
 *     unknown. Activities without a description are left out.
 *   - Times are written MM:SS (seconds rounded down), or H:MM:SS from one
 *     hour on.
 *   - Every text taken from the metadata has its leading and trailing ASCII
 *     whitespace removed; a text that is then empty counts as absent, and a
 *     block with nothing in it is left out (so no doubled blank lines).
 *     Inner newlines are kept as they are.
 *   - Q&A pairs with an empty question or answer are left out.
 *
 * Strings in fv_meta are borrowed from the cJSON tree passed to fv_parse:
 * it must outlive the fv_meta. Nothing here prints or exits. */
#ifndef SFT_MEDIA_FINEVIDEO_H
#define SFT_MEDIA_FINEVIDEO_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The prompt of the user turn when none is given. */
#define FV_DEFAULT_PROMPT "이 비디오에 대해 설명해주세요."

typedef struct {
    const char *description; /* NULL when absent */
    double start, end;       /* seconds; < 0 when unknown */
} fv_activity;

typedef struct {
    int id;            /* sceneId; -1 when absent or not a number */
    const char *title; /* NULL when absent */
    double start, end; /* seconds; < 0 when unknown */
    fv_activity *acts;
    size_t nacts;
} fv_scene;

typedef struct {
    const char *question, *answer; /* NULL when absent */
} fv_qa;

typedef struct {
    double duration;          /* duration_seconds; < 0 when absent */
    int width, height;        /* from resolution; 0 when absent */
    const char *youtube_title; /* NULL when absent */
    const char *title;        /* content_metadata.title */
    const char *description;  /* content_metadata.description */
    fv_scene *scenes;
    size_t nscenes;
    fv_qa *qa;
    size_t nqa;
    size_t nbad_ts; /* timestamp strings that did not parse (made unknown) */
} fv_meta;

/* Parses a timestamp "HH:MM:SS.mmm" (as FineVideo writes them) into
 * seconds. Also accepted: any number of hour digits, "MM:SS" and "SS",
 * each with an optional fraction after the seconds ("." and 1 or more
 * digits). Minutes and seconds below a higher field must be < 60. No
 * spaces, signs or other characters. Returns 0, or -1 when s does not
 * parse (*sec is then unchanged). */
int fv_parse_timestamp(const char *s, double *sec);

/* Parses a resolution "WIDTHxHEIGHT" ("640x360"): positive integers
 * without leading zeros, at most 1000000 each, nothing else. Returns 0, or
 * -1 (*w and *h unchanged). */
int fv_parse_resolution(const char *s, int *w, int *h);

/* Reads the FineVideo metadata object meta into *out (see the rules
 * above). Returns 0; or -1 with the reason in err (when errlen > 0) and
 * *out left empty (nothing to free). After success the caller frees with
 * fv_meta_free(). */
int fv_parse(const cJSON *meta, fv_meta *out, char *err, size_t errlen);

/* Frees what fv_parse allocated (not the borrowed strings) and empties *m.
 * Safe on an emptied or zeroed fv_meta. */
void fv_meta_free(fv_meta *m);

/* The filters users apply. A bound <= 0 is not applied. Returns 1 when the
 * record is kept; 0 when it is filtered, with *why (when why is not NULL)
 * set to a short reason, one of:
 *   "duration 12.0 s < 30 s"            (min_dur)
 *   "duration 700.0 s > 600 s"          (max_dur)
 *   "no duration in the metadata"       (a duration bound, no duration)
 *   "resolution 426x240 below 640x360"  (width < min_w or height < min_h)
 *   "no resolution in the metadata"     (min_w or min_h, no resolution)
 * Duration is checked first. The reason lives in thread-local storage, valid
 * until the next call on the same thread. */
int fv_filter(const fv_meta *m, double min_dur, double max_dur, int min_w, int min_h, const char **why);

/* Builds the "messages" array of an SFT example from m (layout above): the
 * user turn holds nframes image parts with frame_paths in the given order,
 * then the text prompt (FV_DEFAULT_PROMPT when prompt is NULL); the
 * assistant turn the text above with the first nscenes scenes; with_qa
 * non-zero adds the Q&A pairs as further turns. Returns a new array that the
 * caller frees with cJSON_Delete(), or NULL with the reason in err: a NULL or
 * empty frame path, an assistant text that would be empty (no title,
 * description or scene), out of memory. */
cJSON *fv_conversation(const fv_meta *m, const char *const *frame_paths, size_t nframes, const char *prompt,
                       int nscenes, int with_qa, char *err, size_t errlen);

#endif
