/* Force-included (-include) into Lua's C sources by host/build.rs.
 *
 * WASI's locale is always "C", so ASCII answers are exact. wasi-libc (musl)
 * implements toupper/tolower and several is* as out-of-line calls, which sit
 * in the hot loops of Lua's string library (string.upper/lower, pattern
 * classes); these inline versions avoid a wasm call per character. Lua passes
 * values 0-255 (or EOF); bytes >= 128 are in no class and map to themselves,
 * as in the C locale. */
#ifndef RUMBLE_FAST_CTYPE_H
#define RUMBLE_FAST_CTYPE_H
#include <ctype.h>

static inline int rumble_isupper(int c) { return (unsigned)c - 'A' < 26; }
static inline int rumble_islower(int c) { return (unsigned)c - 'a' < 26; }
static inline int rumble_isalpha(int c) { return ((unsigned)c | 32) - 'a' < 26; }
static inline int rumble_isdigit(int c) { return (unsigned)c - '0' < 10; }
static inline int rumble_isalnum(int c) { return rumble_isalpha(c) || rumble_isdigit(c); }
static inline int rumble_isxdigit(int c) { return rumble_isdigit(c) || ((unsigned)c | 32) - 'a' < 6; }
static inline int rumble_isspace(int c) { return c == ' ' || (unsigned)c - '\t' < 5; }
static inline int rumble_iscntrl(int c) { return (unsigned)c < 32 || c == 127; }
static inline int rumble_isgraph(int c) { return (unsigned)c - 33 < 94; }
static inline int rumble_isprint(int c) { return (unsigned)c - 32 < 95; }
static inline int rumble_ispunct(int c) { return rumble_isgraph(c) && !rumble_isalnum(c); }
static inline int rumble_toupper(int c) { return rumble_islower(c) ? c - 32 : c; }
static inline int rumble_tolower(int c) { return rumble_isupper(c) ? c + 32 : c; }

#undef isupper
#undef islower
#undef isalpha
#undef isdigit
#undef isalnum
#undef isxdigit
#undef isspace
#undef iscntrl
#undef isgraph
#undef isprint
#undef ispunct
#undef toupper
#undef tolower
#define isupper(c) rumble_isupper(c)
#define islower(c) rumble_islower(c)
#define isalpha(c) rumble_isalpha(c)
#define isdigit(c) rumble_isdigit(c)
#define isalnum(c) rumble_isalnum(c)
#define isxdigit(c) rumble_isxdigit(c)
#define isspace(c) rumble_isspace(c)
#define iscntrl(c) rumble_iscntrl(c)
#define isgraph(c) rumble_isgraph(c)
#define isprint(c) rumble_isprint(c)
#define ispunct(c) rumble_ispunct(c)
#define toupper(c) rumble_toupper(c)
#define tolower(c) rumble_tolower(c)
#endif
