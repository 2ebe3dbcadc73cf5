// The C API of spm.h over libsentencepiece. No C++ exception may cross into
// C: every entry point catches everything and reports failure instead.
#include "tok/spm.h"

#include <sentencepiece_processor.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// SentencePiece.Type and TrainerSpec.ModelType of sentencepiece_model.proto.
enum { PIECE_NORMAL = 1, PIECE_USER_DEFINED = 4 };
const char *const model_types[] = {"unigram", "bpe", "word", "char"};

}  // namespace

struct sft_spm {
    sentencepiece::SentencePieceProcessor sp;
    std::vector<unsigned char> types;  // SentencePiece.Type of every id
    const char *model_type = "unigram";
};

namespace {

void set_err(char *err, size_t errlen, const std::string &msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg.c_str());
}

// A protobuf wire-format reader, just enough for the piece types and the
// model type: the public header of libsentencepiece offers no IsUserDefined()
// and no model type, and Debian ships no sentencepiece_model.pb.h.
struct wire {
    const unsigned char *p, *end;

    bool varint(uint64_t *v) {
        *v = 0;
        for (int shift = 0; shift < 64 && p < end; shift += 7) {
            unsigned char b = *p++;
            *v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return true;
        }
        return false;
    }

    // Reads one field: its number, wire type, varint value or LEN payload.
    bool field(uint32_t *num, unsigned *type, uint64_t *val, wire *sub) {
        uint64_t key;
        if (!varint(&key)) return false;
        *num = uint32_t(key >> 3);
        *type = unsigned(key & 7);
        switch (*type) {
        case 0: return varint(val);
        case 1: if (end - p < 8) return false; p += 8; return true;
        case 5: if (end - p < 4) return false; p += 4; return true;
        case 2:
            if (!varint(val) || *val > uint64_t(end - p)) return false;
            sub->p = p;
            sub->end = p + *val;
            p += *val;
            return true;
        default: return false;  // groups: not in the model proto
        }
    }
};

// Fills m->types and m->model_type from a serialized ModelProto.
bool read_proto(sft_spm *m, const std::string &bytes) {
    wire w{reinterpret_cast<const unsigned char *>(bytes.data()),
           reinterpret_cast<const unsigned char *>(bytes.data()) + bytes.size()};
    while (w.p < w.end) {
        uint32_t num;
        unsigned type;
        uint64_t val;
        wire sub{nullptr, nullptr};
        if (!w.field(&num, &type, &val, &sub)) return false;
        if (num == 1 && type == 2) {  // repeated SentencePiece pieces
            unsigned char t = PIECE_NORMAL;
            while (sub.p < sub.end) {
                wire s2{nullptr, nullptr};
                if (!sub.field(&num, &type, &val, &s2)) return false;
                if (num == 3 && type == 0) t = (unsigned char)val;
            }
            m->types.push_back(t);
        } else if (num == 2 && type == 2) {  // TrainerSpec trainer_spec
            while (sub.p < sub.end) {
                wire s2{nullptr, nullptr};
                if (!sub.field(&num, &type, &val, &s2)) return false;
                if (num == 3 && type == 0 && val >= 1 && val <= 4) m->model_type = model_types[val - 1];
            }
        }
    }
    return true;
}

bool read_file(const char *path, std::string *out, std::string *why) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = strerror(errno);
        return false;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
    bool ok = !ferror(f);
    if (!ok) *why = strerror(errno);
    fclose(f);
    return ok;
}

bool in_range(const sft_spm *m, int32_t id) {
    return id >= 0 && size_t(id) < m->types.size();
}

}  // namespace

extern "C" {

sft_spm *sft_spm_load(const char *path, char *err, size_t errlen) {
    sft_spm *m = nullptr;
    try {
        std::string bytes, why;
        if (!read_file(path, &bytes, &why)) {
            set_err(err, errlen, std::string(path) + ": " + why);
            return nullptr;
        }
        m = new sft_spm;
        if (!read_proto(m, bytes) || m->types.empty()) {
            set_err(err, errlen, std::string(path) + ": not a SentencePiece model");
            delete m;
            return nullptr;
        }
        auto st = m->sp.LoadFromSerializedProto(bytes);
        if (!st.ok()) {
            set_err(err, errlen, std::string(path) + ": bad SentencePiece model: " + st.error_message());
            delete m;
            return nullptr;
        }
        if (size_t(m->sp.GetPieceSize()) != m->types.size()) {
            set_err(err, errlen, std::string(path) + ": bad SentencePiece model: piece count mismatch");
            delete m;
            return nullptr;
        }
        return m;
    } catch (...) {
        delete m;
        set_err(err, errlen, std::string(path) + ": out of memory");
        return nullptr;
    }
}

void sft_spm_free(sft_spm *m) {
    delete m;
}

int sft_spm_encode(const sft_spm *m, const char *text, size_t len,
                   int (*emit)(void *ctx, int32_t id, uint32_t start, uint32_t end), void *ctx) {
    if (len > UINT32_MAX) return -1;  // offsets are 32-bit in the library too
    try {
        sentencepiece::ImmutableSentencePieceText spt;
        if (!m->sp.Encode(std::string_view(text, len), spt.mutable_proto()).ok()) return -1;
        const size_t n = spt.pieces_size();
        // The library gives the byte pieces of one byte-fallback character
        // empty ranges but the last; all of them get the character's range
        // here, as tok.h promises.
        size_t group_last = 0;
        uint32_t group_end = 0;
        for (size_t i = 0; i < n; i++) {
            const auto p = spt.pieces(int(i));
            const int32_t id = int32_t(p.id());
            uint32_t start = p.begin(), end = p.end();
            if (start == end && m->sp.IsByte(id)) {
                if (i >= group_last) {
                    group_last = i;
                    group_end = end;
                    for (size_t j = i + 1; j < n; j++) {
                        const auto q = spt.pieces(int(j));
                        if (q.begin() != start || !m->sp.IsByte(int(q.id()))) break;
                        if (q.end() != start) {
                            group_last = j;
                            group_end = q.end();
                            break;
                        }
                    }
                }
                end = group_end;
            }
            if (emit(ctx, id, start, end)) return -1;
        }
        return 0;
    } catch (...) {
        return -1;
    }
}

int sft_spm_encode_ids(const sft_spm *m, const char *text, size_t len,
                       int (*emit)(void *ctx, int32_t id, uint32_t start, uint32_t end), void *ctx) {
    try {
        thread_local std::vector<int> ids;
        ids.clear();
        if (!m->sp.Encode(std::string_view(text, len), &ids).ok()) return -1;
        for (int id : ids)
            if (emit(ctx, int32_t(id), 0, 0)) return -1;
        return 0;
    } catch (...) {
        return -1;
    }
}

int sft_spm_decode(const sft_spm *m, const int32_t *ids, size_t n, char **out, size_t *outlen) {
    try {
        std::vector<int> v(ids, ids + n);
        for (int id : v)
            if (!in_range(m, id)) return -1;
        std::string s;
        if (!m->sp.Decode(v, &s).ok()) return -1;
        char *buf = static_cast<char *>(malloc(s.size() + 1));
        if (!buf) return -1;
        memcpy(buf, s.data(), s.size());
        buf[s.size()] = '\0';
        *out = buf;
        *outlen = s.size();
        return 0;
    } catch (...) {
        return -1;
    }
}

size_t sft_spm_vocab_size(const sft_spm *m) {
    return m->types.size();
}

int32_t sft_spm_piece_id(const sft_spm *m, const char *piece, size_t len) {
    try {
        const std::string_view s(piece, len);
        // PieceToId answers unk_id for a piece it does not know.
        const int id = m->sp.PieceToId(s);
        if (!in_range(m, id) || m->sp.IdToPiece(id) != s) return -1;
        return id;
    } catch (...) {
        return -1;
    }
}

const char *sft_spm_piece(const sft_spm *m, int32_t id, size_t *len) {
    if (!in_range(m, id)) return nullptr;
    const std::string &s = m->sp.IdToPiece(id);
    if (len) *len = s.size();
    return s.c_str();
}

// The library indexes its pieces unchecked, so ids are checked here first.
int sft_spm_is_control(const sft_spm *m, int32_t id) {
    return in_range(m, id) && m->sp.IsControl(id);
}

int sft_spm_is_unknown(const sft_spm *m, int32_t id) {
    return in_range(m, id) && m->sp.IsUnknown(id);
}

int sft_spm_is_byte(const sft_spm *m, int32_t id) {
    return in_range(m, id) && m->sp.IsByte(id);
}

int sft_spm_is_user_defined(const sft_spm *m, int32_t id) {
    return in_range(m, id) && m->types[size_t(id)] == PIECE_USER_DEFINED;
}

int32_t sft_spm_bos(const sft_spm *m) {
    return m->sp.bos_id();
}

int32_t sft_spm_eos(const sft_spm *m) {
    return m->sp.eos_id();
}

int32_t sft_spm_unk(const sft_spm *m) {
    return m->sp.unk_id();
}

int32_t sft_spm_pad(const sft_spm *m) {
    return m->sp.pad_id();
}

const char *sft_spm_model_type(const sft_spm *m) {
    return m->model_type;
}

}  // extern "C"
