/* The JSONL reader: streams records (one JSON object per line) from a file,
 * stdin or memory.
 *
 * Lines end in "\n" or "\r\n"; a UTF-8 BOM at the start of the input and
 * blank lines are skipped. Every returned record has been checked to be valid
 * UTF-8 and strict JSON (core/json.h) holding an object, so a record's text
 * can be looked into with json_get() or parsed with jsonl_parse(). Lines of
 * any length up to max_line are read; longer ones are reported as bad and
 * skipped without being held in memory. */
#ifndef SFT_JSONL_H
#define SFT_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define JSONL_DEFAULT_MAX_LINE ((size_t)64 << 20)

typedef struct jsonl_reader jsonl_reader;

typedef struct {
    const char *text; /* the line without BOM and line end; NULL for a line
                         too long to hold. Valid until the next call. */
    size_t len;       /* its length (for a too-long line: its full length) */
    uint64_t line;    /* 1-based line number */
    uint64_t offset;  /* byte offset of the line's first byte in the input */
} jsonl_record;

/* Why a record is bad, or what went wrong reading. */
typedef struct {
    uint64_t line;
    uint64_t col;     /* 1-based byte column, 0 when there is none */
    char reason[200];
} jsonl_error;

enum {
    JSONL_EOF = 0,
    JSONL_RECORD = 1, /* *rec is a good record */
    JSONL_BAD = 2,    /* *rec is a bad line, *err says why; reading may go on */
    JSONL_IOERR = -1  /* reading failed: err->reason says why; stop */
};

/* Opens path for reading; NULL or "-" reads stdin (which is not closed).
 * max_line 0 means JSONL_DEFAULT_MAX_LINE. Returns 0, or an errno value
 * (the file could not be opened, or ENOMEM). */
int jsonl_open(jsonl_reader **out, const char *path, size_t max_line);

/* Reads from the fd; it is closed by jsonl_close() when close_fd is set. */
int jsonl_open_fd(jsonl_reader **out, int fd, int close_fd, const char *name, size_t max_line);

/* Reads from the memory mem[0..len), which must outlive the reader. */
int jsonl_open_mem(jsonl_reader **out, const void *mem, size_t len, const char *name, size_t max_line);

/* Name for diagnostics: the path, or "<stdin>". */
const char *jsonl_name(const jsonl_reader *r);

/* Bytes consumed so far (for progress lines). */
uint64_t jsonl_bytes_read(const jsonl_reader *r);

/* Returns JSONL_RECORD, JSONL_BAD, JSONL_EOF or JSONL_IOERR as above. */
int jsonl_next(jsonl_reader *r, jsonl_record *rec, jsonl_error *err);

void jsonl_close(jsonl_reader *r);

/* Parses a good record into a cJSON tree, which the caller frees with
 * cJSON_Delete(). Returns NULL with *err filled only when memory runs out,
 * since the text was validated when read. */
cJSON *jsonl_parse(const jsonl_record *rec, jsonl_error *err);

#endif
