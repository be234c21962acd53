/* The hot inner part of newsriver.stories.fingerprint, in C: an optional build.
 *
 * body(text, figures) takes a normalized body text (fingerprint.body_text's, in UTF-8 with
 * surrogatepass) and gives what fingerprint._python_body computes from it: the tokens'
 * count, the lead words, the opening shingles, the distinct sorted shingle hashes and the
 * index keys (or, for a body too short to compare as text, its tokens, which the Python
 * code turns into words); it counts the figures into ``figures`` (a Counter).
 *
 * Every rule here is the Python path's, rewritten to work in one pass over the bytes
 * instead of a pass per rule; fingerprint.py keeps that path, and tests and
 * benchmarks/fingerprint_ab.py prove both give the same fingerprints. The constants are
 * exported as PARAMETERS, which fingerprint.py compares with its own before using this; and
 * SOURCE_SHA, the sha256 of this file as setup.py built it, which fingerprint.py compares
 * with this file beside it, so that a build left over from before an edit is not used.
 *
 * Word hashes are BLAKE2b with an 8-byte digest (hashlib.blake2b(word, digest_size=8)),
 * remembered in a table of this module's: computing them here, rather than calling back
 * into hashlib, keeps the GIL held throughout, so no other thread can enter the table
 * halfway through a change.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef SOURCE_SHA /* setup.py defines it; a build without it matches no source */
#define SOURCE_SHA ""
#endif

#define SHINGLE 4
#define MIN_SHINGLES 24
#define SKETCH 6
#define SAMPLE 32
#define MAX_KEYS 16
#define LEAD_KEYS 2
#define LEAD_WORDS 60
#define OPENING 160

static const uint64_t WEIGHTS[SHINGLE] = {
    0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL, 0x165667B19E3779F9ULL, 0xD6E8FEB86659FD93ULL};
static const uint64_t FMIX = 0xFF51AFD7ED558CCDULL;
static const uint64_t PRIME = 0x100000001B3ULL;
static const uint64_t SAMPLED = UINT64_MAX / SAMPLE;

static const char *const DATE_WORDS[] = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "june", "july", "august", "september", "october", "november", "december", "jan",
    "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"};
#define N_DATE_WORDS ((int)(sizeof(DATE_WORDS) / sizeof(DATE_WORDS[0])))

/* --- BLAKE2b, 8-byte digest, no key (RFC 7693) ----------------------------------- */

static const uint64_t BLAKE_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

static const uint8_t SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

static inline uint64_t rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#define G(a, b, c, d, x, y)                \
    do {                                   \
        v[a] = v[a] + v[b] + (x);          \
        v[d] = rotr64(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];                \
        v[b] = rotr64(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);          \
        v[d] = rotr64(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];                \
        v[b] = rotr64(v[b] ^ v[c], 63);    \
    } while (0)

static void blake_compress(uint64_t h[8], const unsigned char block[128], uint64_t counted, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = BLAKE_IV[i];
    }
    v[12] ^= counted; /* the high word of the counter stays 0: no word is 2^64 bytes long */
    if (last) v[14] = ~v[14];
    for (int i = 0; i < 16; i++) m[i] = load64(block + 8 * i);
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = SIGMA[r];
        G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

/* hashlib.blake2b(data, digest_size=8).digest() read as a little-endian integer: the
 * digest is the first 8 bytes of the state, little-endian, which is its first word. */
static uint64_t blake8(const unsigned char *data, size_t size) {
    uint64_t h[8];
    unsigned char block[128];
    memcpy(h, BLAKE_IV, sizeof h);
    h[0] ^= 0x01010000ULL ^ 8; /* depth 1, fanout 1, no key, digest of 8 bytes */
    uint64_t counted = 0;
    while (size > 128) {
        counted += 128;
        blake_compress(h, data, counted, 0);
        data += 128;
        size -= 128;
    }
    memset(block, 0, sizeof block);
    memcpy(block, data, size);
    counted += size;
    blake_compress(h, block, counted, 1);
    return h[0];
}

/* --- the word hashes, remembered --------------------------------------------------- */

/* As fingerprint._WordHashes: a bound on memory, starting afresh when full. A slot is 24
 * bytes, and the table is kept at most half full: LIMIT words take at most 2^18 slots, 6 MiB.
 * A word's bytes beyond its first 8 are kept beside, in `tails`, which starts afresh too when
 * it would pass TAILS_LIMIT: 8 MiB at most in all, where the Python dict took ~16 MB. Tails
 * are short and few (the corpus's 88,766 distinct words keep 60 KB beside), so that bound is
 * reached only by texts of long words, where starting afresh costs a hash per word until it
 * is warm again. Words longer than CACHED_BYTES (rare: URLs, runs of digits) are hashed each
 * time. */
#define LIMIT (1 << 17)
#define TAILS_LIMIT (1 << 21)
#define CACHED_BYTES 64

typedef struct {
    uint64_t head;   /* the word's first 8 bytes, little-endian, zeros after its end */
    uint64_t value;
    uint32_t offset; /* of its bytes beyond the first 8 in `tails` */
    uint32_t size;   /* 0: an empty slot */
} Slot;

static Slot *slots = NULL;
static size_t capacity = 0; /* slots, a power of two */
static size_t remembered = 0;
static unsigned char *tails = NULL;
static size_t tails_size = 0, tails_capacity = 0;

/* Read 8 bytes as a little-endian integer, keeping the first `size` (1 to 8). The caller
 * guarantees 8 bytes are readable: the bytes after a word's end are masked off. */
static inline uint64_t head_of(const unsigned char *word, size_t size) {
    uint64_t v = load64(word);
    return size >= 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

/* Where to look a word up: mixed from its head, its size and (rarely) the rest. */
static inline uint64_t slot_hash(uint64_t head, const unsigned char *word, size_t size) {
    uint64_t h = (head ^ ((uint64_t)size << 58)) * 0x9E3779B97F4A7C15ULL;
    for (size_t at = 8; at < size; at += 8) h = (h ^ head_of(word + at, size - at)) * 0xC2B2AE3D27D4EB4FULL;
    return h ^ (h >> 29) ^ (h >> 47);
}

static int grow_slots(size_t wanted) {
    Slot *grown = PyMem_Calloc(wanted, sizeof(Slot));
    if (grown == NULL) return -1;
    for (size_t i = 0; i < capacity; i++) {
        if (!slots[i].size) continue;
        const Slot *slot = &slots[i];
        /* the tail was kept: rebuild the word's lookup hash from head and tail */
        unsigned char word[CACHED_BYTES + 8];
        memset(word, 0, sizeof word);
        for (int b = 0; b < 8; b++) word[b] = (unsigned char)(slot->head >> (8 * b));
        if (slot->size > 8) memcpy(word + 8, tails + slot->offset, slot->size - 8);
        size_t at = slot_hash(slot->head, word, slot->size) & (wanted - 1);
        while (grown[at].size) at = (at + 1) & (wanted - 1);
        grown[at] = *slot;
    }
    PyMem_Free(slots);
    slots = grown;
    capacity = wanted;
    return 0;
}

static void forget_words(void) {
    memset(slots, 0, capacity * sizeof(Slot));
    remembered = 0;
    tails_size = 0;
}

/* The word's BLAKE2b-8, remembered. `word` must be followed by at least 8 readable bytes. */
static uint64_t word_hash(const unsigned char *word, size_t size) {
    if (size > CACHED_BYTES || size == 0) return blake8(word, size);
    uint64_t head = head_of(word, size);
    uint64_t where = slot_hash(head, word, size);
    size_t at = 0;
    if (capacity) {
        for (at = where & (capacity - 1); slots[at].size; at = (at + 1) & (capacity - 1)) {
            const Slot *slot = &slots[at];
            if (slot->head == head && slot->size == size &&
                (size <= 8 || memcmp(tails + slot->offset, word + 8, size - 8) == 0))
                return slot->value;
        }
    }
    uint64_t value = blake8(word, size);
    /* Remembered only when there is room: failing to remember changes no hash. */
    size_t tail = size > 8 ? size - 8 : 0;
    if (remembered >= LIMIT || tails_size + tail > TAILS_LIMIT) forget_words();
    if ((remembered + 1) * 2 > capacity) {
        if (grow_slots(capacity ? capacity * 2 : 4096) < 0) return value;
    }
    if (tails_size + tail > tails_capacity) {
        size_t wanted = tails_capacity ? tails_capacity * 2 : 65536; /* reaches TAILS_LIMIT exactly */
        unsigned char *grown = PyMem_Realloc(tails, wanted);
        if (grown == NULL) return value;
        tails = grown;
        tails_capacity = wanted;
    }
    at = where & (capacity - 1);
    while (slots[at].size) at = (at + 1) & (capacity - 1);
    if (tail) memcpy(tails + tails_size, word + 8, tail);
    slots[at].head = head;
    slots[at].value = value;
    slots[at].offset = (uint32_t)tails_size;
    slots[at].size = (uint32_t)size;
    tails_size += tail;
    remembered++;
    return value;
}

/* --- characters -------------------------------------------------------------------- */

static inline int ascii_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int is_separator(unsigned char c) {
    return c == '.' || c == ',' || c == ':' || c == '/' || c == '-';
}

/* What each byte is, as bits: KEPT, a byte a token may hold (_BYTE_BREAKS keeps it); WORD,
 * one _WORD_BYTE matches; SEPARATOR, one of _JOINING's; DIGIT, an ASCII digit; BEYOND, a byte
 * of a character beyond ASCII. */
enum { KEPT = 1, WORD = 2, SEPARATOR = 4, DIGIT = 8, BEYOND = 16 };
static unsigned char KIND[256];

static void make_kinds(void) {
    for (int c = 0; c < 256; c++) {
        int kind = 0;
        if (c >= 0x80) kind = WORD | BEYOND;
        else if (ascii_alnum((unsigned char)c)) kind = KEPT | WORD | ((c >= '0' && c <= '9') ? DIGIT : 0);
        else if (is_separator((unsigned char)c)) kind = KEPT | SEPARATOR;
        KIND[c] = (unsigned char)kind;
    }
}

/* The character at text[at] (at < size, text valid UTF-8 as surrogatepass makes it) and
 * its length in bytes. */
static inline Py_UCS4 decode_at(const unsigned char *text, Py_ssize_t size, Py_ssize_t at, int *length) {
    unsigned char c = text[at];
    Py_UCS4 code;
    int n;
    if (c < 0x80) {
        *length = 1;
        return c;
    } else if (c < 0xE0) {
        code = c & 0x1F;
        n = 2;
    } else if (c < 0xF0) {
        code = c & 0x0F;
        n = 3;
    } else {
        code = c & 0x07;
        n = 4;
    }
    if (at + n > size) n = (int)(size - at); /* never for valid UTF-8; bounds reads all the same */
    for (int i = 1; i < n; i++) code = (code << 6) | (text[at + i] & 0x3F);
    *length = n;
    return code;
}

/* What \d matches in a str pattern (and str.isdecimal()). */
static inline int decimal(Py_UCS4 code) { return code < 0x80 ? (code >= '0' && code <= '9') : Py_UNICODE_ISDECIMAL(code); }

/* Whether the comma at text[at] is a thousands separator, as fingerprint._THOUSANDS says:
 * a digit before it, exactly three after it. */
static int thousands(const unsigned char *text, Py_ssize_t size, Py_ssize_t at) {
    if (at == 0) return 0;
    Py_ssize_t before = at - 1;
    while (before > 0 && (text[before] & 0xC0) == 0x80 && at - before < 4) before--;
    int length;
    if (!decimal(decode_at(text, size, before, &length))) return 0;
    Py_ssize_t next = at + 1;
    for (int i = 0; i < 3; i++) {
        if (next >= size || !decimal(decode_at(text, size, next, &length))) return 0;
        next += length;
    }
    return next >= size || !decimal(decode_at(text, size, next, &length));
}

/* --- sorting ----------------------------------------------------------------------- */

static void insertion_sort(uint64_t *values, Py_ssize_t n) {
    for (Py_ssize_t i = 1; i < n; i++) {
        uint64_t v = values[i];
        Py_ssize_t j = i;
        for (; j > 0 && values[j - 1] > v; j--) values[j] = values[j - 1];
        values[j] = v;
    }
}

/* Least significant byte first, a histogram per byte made in one pass. */
static void radix_sort(uint64_t *values, uint64_t *spare, Py_ssize_t n) {
    Py_ssize_t counts[8][256];
    memset(counts, 0, sizeof counts);
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v = values[i];
        for (int b = 0; b < 8; b++) counts[b][(v >> (8 * b)) & 0xFF]++;
    }
    uint64_t *from = values, *to = spare;
    for (int b = 0; b < 8; b++) {
        Py_ssize_t *count = counts[b];
        if (count[(from[0] >> (8 * b)) & 0xFF] == n) continue; /* all alike in this byte */
        Py_ssize_t total = 0;
        for (int d = 0; d < 256; d++) {
            Py_ssize_t c = count[d];
            count[d] = total;
            total += c;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t v = from[i];
            to[count[(v >> (8 * b)) & 0xFF]++] = v;
        }
        uint64_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != values) memcpy(values, from, n * sizeof(uint64_t));
}

/* `from` sorted into `to` (`spare` as large, for the sort's own use). Shingle hashes are
 * spread evenly: put in about as many buckets by their top bits as there are, then each
 * bucket (one or two values, mostly) sorted alone. A bucket that many share (a text
 * repeating itself) is sorted by radix, so no input makes this quadratic. */
static void sort_hashes(const uint64_t *from, uint64_t *to, uint64_t *spare, Py_ssize_t n) {
    if (n < 64) {
        memcpy(to, from, n * sizeof(uint64_t));
        insertion_sort(to, n);
        return;
    }
    int bits = 6;
    while (bits < 16 && ((Py_ssize_t)1 << bits) < n) bits++;
    size_t buckets = (size_t)1 << bits;
    Py_ssize_t on_stack[1024];
    Py_ssize_t *ends = buckets <= 1024 ? on_stack : PyMem_Malloc(buckets * sizeof(Py_ssize_t));
    if (ends == NULL) {
        memcpy(to, from, n * sizeof(uint64_t));
        radix_sort(to, spare, n);
        return;
    }
    memset(ends, 0, buckets * sizeof(Py_ssize_t));
    for (Py_ssize_t i = 0; i < n; i++) ends[from[i] >> (64 - bits)]++;
    Py_ssize_t total = 0;
    for (size_t b = 0; b < buckets; b++) {
        Py_ssize_t c = ends[b];
        ends[b] = total; /* its start, until the values are put in: then its end */
        total += c;
    }
    for (Py_ssize_t i = 0; i < n; i++) to[ends[from[i] >> (64 - bits)]++] = from[i];
    Py_ssize_t start = 0;
    for (size_t b = 0; b < buckets; b++) {
        Py_ssize_t size = ends[b] - start;
        if (size > 32)
            radix_sort(to + start, spare, size);
        else if (size > 1)
            insertion_sort(to + start, size);
        start = ends[b];
    }
    if (ends != on_stack) PyMem_Free(ends);
}

/* --- the body ---------------------------------------------------------------------- */

static PyObject *as_bytes(const uint64_t *values, Py_ssize_t n) {
    /* Little-endian, as numpy's "<u8" reads them. */
    PyObject *made = PyBytes_FromStringAndSize(NULL, n * 8);
    if (made == NULL) return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(made);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(out, values, n * 8);
#else
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v = values[i];
        for (int b = 0; b < 8; b++) out[8 * i + b] = (unsigned char)(v >> (8 * b));
    }
#endif
    return made;
}

static int count_figure(PyObject *figures, const unsigned char *token, Py_ssize_t size) {
    PyObject *key = PyUnicode_DecodeUTF8((const char *)token, size, "surrogatepass");
    if (key == NULL) return -1;
    PyObject *had = PyDict_GetItemWithError(figures, key); /* borrowed */
    PyObject *now;
    if (had == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        }
        now = PyLong_FromLong(1);
    } else {
        Py_ssize_t times = PyLong_AsSsize_t(had);
        now = times == -1 && PyErr_Occurred() ? NULL : PyLong_FromSsize_t(times + 1);
    }
    if (now == NULL) {
        Py_DECREF(key);
        return -1;
    }
    int failed = PyDict_SetItem(figures, key, now);
    Py_DECREF(key);
    Py_DECREF(now);
    return failed;
}

/* The date words by first letter and size: up to DATES_ALIKE indexes into DATE_WORDS, then
 * -1 ("jan", "jun" and "jul" fill a place). Made at module init, which fails when a date word
 * does not fit: one more of a letter and size, or one shorter or longer than the table. */
#define DATES_ALIKE 3
#define DATE_SIZES 10
static signed char date_words[26][DATE_SIZES][DATES_ALIKE];

static int make_date_words(void) {
    memset(date_words, -1, sizeof date_words);
    for (int i = 0; i < N_DATE_WORDS; i++) {
        const char *word = DATE_WORDS[i];
        size_t size = strlen(word);
        if (size < 3 || size >= DATE_SIZES || word[0] < 'a' || word[0] > 'z') return -1;
        signed char *place = date_words[word[0] - 'a'][size];
        int k = 0;
        while (k < DATES_ALIKE && place[k] >= 0) k++;
        if (k == DATES_ALIKE) return -1;
        place[k] = (signed char)i;
    }
    return 0;
}

/* The date word a token is (its index in DATE_WORDS), or -1: looked for only among the
 * words of its first letter and size, as most tokens are no date word. */
static int date_word(const unsigned char *token, Py_ssize_t size) {
    if (size < 3 || size >= DATE_SIZES || token[0] < 'a' || token[0] > 'z') return -1;
    const signed char *found = date_words[token[0] - 'a'][size];
    for (int k = 0; k < DATES_ALIKE && found[k] >= 0; k++) {
        if (memcmp(DATE_WORDS[found[k]], token, size) == 0) return found[k];
    }
    return -1;
}

/* Whether a token is initials: two to four letters a-z with a dot between each two
 * ("u.s", "e.u", "u.k.i.p"): fingerprint._UTF8_INITIALS drops those dots. */
static int initials(const unsigned char *token, Py_ssize_t size) {
    if (size != 3 && size != 5 && size != 7) return 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = token[i];
        if (i % 2 ? c != '.' : (c < 'a' || c > 'z')) return 0;
    }
    return 1;
}

typedef struct {
    Py_ssize_t start; /* in the spaced text */
    Py_ssize_t size;
    uint64_t hash; /* its word's */
} Token;

static PyObject *body(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "body(text: bytes, figures: dict)");
        return NULL;
    }
    PyObject *figures = args[1];
    const unsigned char *text = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    PyObject *result = NULL, *lead = NULL, *opening = NULL, *features = Py_None, *keys = Py_None, *tokens = Py_None;
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);

    /* The spaced text, with a space after its end (where a token's scan stops) and 8 bytes
     * more (a word's head is read 8 bytes at a time). */
    unsigned char *spaced = PyMem_Malloc((size_t)size + 9);
    Token *tokens_found = NULL;
    uint64_t *block = NULL;
    if (spaced == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* The characters no token holds become spaces, as _BYTE_BREAKS and the replacement of
     * the characters beyond ASCII that are no letters or digits do; thousands' commas go
     * (_THOUSANDS). Whether any digit beyond ASCII is left: the figures look for those. */
    Py_ssize_t kept = 0;
    int other_digits = 0;
    for (Py_ssize_t at = 0; at < size;) {
        unsigned char c = text[at];
        if (c < 0x80) {
            if (!(c == ',' && thousands(text, size, at))) spaced[kept++] = KIND[c] & KEPT ? c : ' ';
            at++;
            continue;
        }
        int length;
        Py_UCS4 code = decode_at(text, size, at, &length);
        if (Py_UNICODE_ISALNUM(code)) {
            memcpy(spaced + kept, text + at, length);
            kept += length;
            if (Py_UNICODE_ISDECIMAL(code)) other_digits = 1;
        } else {
            spaced[kept++] = ' ';
        }
        at += length;
    }
    memset(spaced + kept, ' ', 9);
    /* A separator joins two word characters or is a space (_JOINING, _UNMARK). Neither a
     * separator nor a space is a word character, so changing them in place changes no
     * later separator's verdict. */
    for (Py_ssize_t at = 0; at < kept; at++) {
        if (KIND[spaced[at]] & SEPARATOR &&
            !(at > 0 && KIND[spaced[at - 1]] & WORD && KIND[spaced[at + 1]] & WORD)) /* spaced[kept] is a space */
            spaced[at] = ' ';
    }

    /* Per token its start, size and word's hash; room for a token in 4 bytes to begin with
     * (words of 3 letters and a space), more when the text has more. */
    Py_ssize_t room = kept / 4 + 16;
    tokens_found = PyMem_Malloc((size_t)room * sizeof(Token));
    if (tokens_found == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t count = 0;
    Py_ssize_t dates[N_DATE_WORDS];
    int date_order[N_DATE_WORDS], dated = 0;
    memset(dates, 0, sizeof dates);
    for (Py_ssize_t at = 0; at < kept;) {
        if (spaced[at] == ' ') {
            at++;
            continue;
        }
        Py_ssize_t start = at;
        int kinds = 0;
        for (; spaced[at] != ' '; at++) kinds |= KIND[spaced[at]];
        unsigned char *token = spaced + start;
        Py_ssize_t length = at - start;
        if (kinds & SEPARATOR && !(kinds & (DIGIT | BEYOND)) && initials(token, length)) {
            for (Py_ssize_t i = 2; i < length; i += 2) token[i / 2] = token[i]; /* its letters, in place */
            length = length / 2 + 1;
            kinds = 0;
        }
        if (count == room) {
            Token *grown = PyMem_Realloc(tokens_found, (size_t)room * 2 * sizeof(Token));
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            tokens_found = grown;
            room *= 2;
        }
        tokens_found[count].start = start;
        tokens_found[count].size = length;
        tokens_found[count].hash = word_hash(token, length); /* 8 bytes readable after it: a space and the padding */
        count++;
        int figure = kinds & DIGIT;
        if (!figure && kinds & BEYOND && other_digits) {
            for (Py_ssize_t i = 0; i < length && !figure; i++) {
                int n;
                if (token[i] >= 0xC0) figure = Py_UNICODE_ISDECIMAL(decode_at(token, length, i, &n));
            }
        }
        if (figure) {
            if (count_figure(figures, token, length) < 0) goto done;
        } else if (!(kinds & (SEPARATOR | BEYOND))) {
            int date = date_word(token, length);
            if (date >= 0 && !dates[date]++) date_order[dated++] = date;
        }
    }
    for (int i = 0; i < dated; i++) {
        const char *word = DATE_WORDS[date_order[i]];
        PyObject *times = PyLong_FromSsize_t(dates[date_order[i]]);
        if (times == NULL) goto done;
        int failed = PyDict_SetItemString(figures, word, times);
        Py_DECREF(times);
        if (failed) goto done;
    }

    /* The lead words: the first LEAD_WORDS tokens, space-separated. */
    Py_ssize_t leading = count < LEAD_WORDS ? count : LEAD_WORDS, lead_size = 0;
    for (Py_ssize_t i = 0; i < leading; i++) lead_size += tokens_found[i].size + (i > 0);
    lead = PyBytes_FromStringAndSize(NULL, lead_size);
    if (lead == NULL) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(lead);
    for (Py_ssize_t i = 0; i < leading; i++) {
        if (i) *out++ = ' ';
        memcpy(out, spaced + tokens_found[i].start, tokens_found[i].size);
        out += tokens_found[i].size;
    }

    /* Shingles (_shingles), their distinct values sorted (_distinct), the keys (_keys). */
    Py_ssize_t n_shingles = count - SHINGLE + 1;
    if (n_shingles < 0) n_shingles = 0;
    block = PyMem_Malloc((size_t)(n_shingles ? n_shingles : 1) * 3 * sizeof(uint64_t));
    if (block == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    uint64_t *shingles = block, *sorted = shingles + n_shingles, *spare = sorted + n_shingles;
    for (Py_ssize_t i = 0; i < n_shingles; i++) {
        uint64_t mixed = tokens_found[i].hash * WEIGHTS[0];
        for (int k = 1; k < SHINGLE; k++) mixed ^= tokens_found[i + k].hash * WEIGHTS[k];
        mixed ^= mixed >> 33;
        mixed *= FMIX;
        shingles[i] = mixed ^ (mixed >> 33);
    }
    opening = as_bytes(shingles, n_shingles < OPENING ? n_shingles : OPENING);
    if (opening == NULL) goto done;
    sort_hashes(shingles, sorted, spare, n_shingles);
    Py_ssize_t distinct = 0;
    for (Py_ssize_t i = 0; i < n_shingles; i++) {
        if (i == 0 || sorted[i] != sorted[i - 1]) sorted[distinct++] = sorted[i];
    }
    if (distinct >= MIN_SHINGLES) {
        Py_ssize_t below = 0;
        while (below < distinct && sorted[below] < SAMPLED) below++;
        Py_ssize_t sampled = below < SKETCH ? SKETCH : below;
        if (sampled > MAX_KEYS) sampled = MAX_KEYS;
        if (sampled > distinct) sampled = distinct;
        Py_ssize_t led = n_shingles < LEAD_KEYS ? n_shingles : LEAD_KEYS;
        Py_DECREF(keys);
        keys = PyList_New(sampled + led);
        if (keys == NULL) goto done;
        for (Py_ssize_t i = 0; i < sampled + led; i++) {
            uint64_t value = i < sampled ? sorted[i] : shingles[i - sampled] ^ 1;
            PyObject *key = PyLong_FromLongLong((long long)(int64_t)(value * PRIME));
            if (key == NULL) goto done;
            PyList_SET_ITEM(keys, i, key);
        }
        Py_DECREF(features);
        features = as_bytes(sorted, distinct);
        if (features == NULL) goto done;
    } else {
        /* Too short to compare as text: its words decide, which fingerprint.py makes. */
        Py_DECREF(tokens);
        tokens = PyList_New(count);
        if (tokens == NULL) goto done;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *token = PyBytes_FromStringAndSize((const char *)spaced + tokens_found[i].start, tokens_found[i].size);
            if (token == NULL) goto done;
            PyList_SET_ITEM(tokens, i, token);
        }
    }
    result = Py_BuildValue("(nOOOOO)", count, lead, opening, features, keys, tokens);

done:
    PyMem_Free(spaced);
    PyMem_Free(tokens_found);
    PyMem_Free(block);
    Py_XDECREF(lead);
    Py_XDECREF(opening);
    Py_XDECREF(features);
    Py_XDECREF(keys);
    Py_XDECREF(tokens);
    return result;
}

static PyObject *word_hash_py(PyObject *module, PyObject *word) {
    if (!PyBytes_Check(word)) {
        PyErr_SetString(PyExc_TypeError, "word_hash(word: bytes)");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(word);
    unsigned char *padded = PyMem_Calloc(size + 8, 1); /* word_hash reads 8 bytes at a time */
    if (padded == NULL) return PyErr_NoMemory();
    memcpy(padded, PyBytes_AS_STRING(word), size);
    uint64_t value = word_hash(padded, size);
    PyMem_Free(padded);
    return PyLong_FromUnsignedLongLong(value);
}

static PyObject *remembered_py(PyObject *module, PyObject *unused) { return PyLong_FromSize_t(remembered); }

static PyMethodDef methods[] = {
    {"body", (PyCFunction)(void (*)(void))body, METH_FASTCALL,
     "body(text, figures) -> (tokens, lead_words, opening, features or None, keys or None, tokens or None)"},
    {"word_hash", word_hash_py, METH_O, "The word's hash as a little-endian integer (remembered)."},
    {"remembered", remembered_py, METH_NOARGS, "How many word hashes are remembered."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef definition = {PyModuleDef_HEAD_INIT, "_fingerprint_c", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fingerprint_c(void) {
    make_kinds();
    if (make_date_words() < 0) {
        PyErr_SetString(PyExc_ImportError, "_fingerprint_c: DATE_WORDS does not fit its lookup table");
        return NULL;
    }
    PyObject *module = PyModule_Create(&definition);
    if (module == NULL) return NULL;
    PyObject *dates = PyTuple_New(N_DATE_WORDS), *parameters = NULL;
    if (dates == NULL) goto failed;
    for (int i = 0; i < N_DATE_WORDS; i++) {
        PyObject *word = PyUnicode_FromString(DATE_WORDS[i]);
        if (word == NULL) goto failed;
        PyTuple_SET_ITEM(dates, i, word);
    }
    parameters = Py_BuildValue(
        "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:(KKKK),s:K,s:K,s:O,s:i}", "SHINGLE", SHINGLE, "MIN_SHINGLES",
        MIN_SHINGLES, "SKETCH", SKETCH, "SAMPLE", SAMPLE, "MAX_KEYS", MAX_KEYS, "LEAD_KEYS", LEAD_KEYS, "LEAD_WORDS",
        LEAD_WORDS, "OPENING", OPENING, "WEIGHTS", (unsigned long long)WEIGHTS[0], (unsigned long long)WEIGHTS[1],
        (unsigned long long)WEIGHTS[2], (unsigned long long)WEIGHTS[3], "FMIX", (unsigned long long)FMIX, "PRIME",
        (unsigned long long)PRIME, "DATE_WORDS", dates, "LIMIT", LIMIT);
    if (parameters == NULL || PyModule_AddObjectRef(module, "PARAMETERS", parameters) < 0) goto failed;
    if (PyModule_AddStringConstant(module, "SOURCE_SHA", SOURCE_SHA) < 0) goto failed;
    Py_DECREF(dates);
    Py_DECREF(parameters);
    return module;
failed:
    Py_XDECREF(dates);
    Py_XDECREF(parameters);
    Py_DECREF(module);
    return NULL;
}
