/* Text input: reads a text file in any of the encodings chat exports come
 * in and hands it out as UTF-8 lines.
 *
 * The encoding is detected from the first 64 KB: a BOM (UTF-8, UTF-16LE,
 * UTF-16BE), else valid UTF-8, else UTF-16 without BOM (by its zero bytes),
 * else CP949 (the Windows superset of EUC-KR) when iconv converts it. A
 * file that is none of these (binary data) fails detection. Converted text
 * is valid UTF-8 by construction; an invalid byte sequence in a converted
 * encoding becomes U+FFFD and is counted (textin_replaced()). UTF-8 input
 * is checked line by line: a line with invalid UTF-8 is returned as bad.
 *
 * Lines end in "\n" or "\r\n" (the "\r" is removed); the last line may lack
 * its end. Lines longer than max_line are returned as bad without being
 * held in memory. */
#ifndef SFT_TEXTIN_H
#define SFT_TEXTIN_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TEXT_ENC_AUTO = 0,
    TEXT_ENC_UTF8,
    TEXT_ENC_UTF16LE,
    TEXT_ENC_UTF16BE,
    TEXT_ENC_CP949,
} text_encoding;

/* Name of an encoding ("utf-8", "utf-16le", "utf-16be", "cp949", "auto"). */
const char *text_encoding_name(text_encoding enc);
/* Parses a name as given to --encoding (case-insensitive; "euc-kr" and
 * "uhc" mean cp949). Returns 0, or -1 when unknown. */
int text_encoding_parse(const char *name, text_encoding *out);

typedef struct textin textin;

typedef struct {
    const char *text; /* the line in UTF-8, without its end; NULL for a line
                         too long to hold. Valid until the next call. */
    size_t len;
    uint64_t line;    /* 1-based (for TEXT_IOERR: the line being read) */
    uint64_t offset;  /* offset of the line's first byte in the text: in the
                         input for UTF-8 (after a BOM), else in the UTF-8 text */
    uint64_t col;     /* for a bad line: 1-based byte column of the fault */
    const char *reason; /* for a bad line: why (static text) */
} text_line;

enum {
    TEXT_EOF = 0,
    TEXT_LINE = 1,
    TEXT_BAD = 2,    /* *line is bad (invalid UTF-8, too long); reading goes on */
    TEXT_IOERR = -1, /* reading failed; errno is set */
};

/* Opens path ("-" or NULL: stdin, not closed) and, when enc is
 * TEXT_ENC_AUTO, reads its first bytes to detect the encoding (a forced
 * encoding reads nothing before the first textin_next(), which skips a BOM
 * of that encoding). max_line 0 means 64 MiB. Returns 0, or an errno value
 * (the file cannot be opened, a read failed, ENOMEM). A file whose encoding
 * cannot be detected still opens: textin_detect_error() says so. */
int textin_open(textin **out, const char *path, text_encoding enc, size_t max_line);

/* The same over fd, which textin_close() closes when close_fd is set. */
int textin_open_fd(textin **out, int fd, int close_fd, const char *name, text_encoding enc,
                   size_t max_line);

/* The same over memory mem[0..len), which must outlive the reader. */
int textin_open_mem(textin **out, const void *mem, size_t len, const char *name,
                    text_encoding enc, size_t max_line);

/* NULL when the encoding is known, else why it is not (static text). */
const char *textin_detect_error(const textin *t);
text_encoding textin_encoding(const textin *t);
/* Whether the input began with a byte order mark (known once detected). */
int textin_had_bom(const textin *t);
const char *textin_name(const textin *t);
/* Input bytes consumed so far (for progress lines). */
uint64_t textin_bytes_read(const textin *t);
/* Invalid byte sequences replaced by U+FFFD while converting. */
uint64_t textin_replaced(const textin *t);

/* Returns TEXT_LINE, TEXT_BAD, TEXT_EOF or TEXT_IOERR as above. */
int textin_next(textin *t, text_line *line);

void textin_close(textin *t);

#endif
