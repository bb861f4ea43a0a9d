/* Force-included (-include) into Lua's C sources by host/build.rs.
 *
 * Lua's g_read (io.read, file:read, the io.lines iterators) calls clearerr(f)
 * before reading, so a handle that hit end of file sees data appended since:
 * on POSIX the next read(2) simply returns it. wasi-libc on WASI 0.2 reads a
 * file through one wasi:io input-stream, opened at the descriptor's offset
 * and kept for later reads; once that stream has reported its end it stays
 * closed, so every later read(2) returns 0 again. Seeking drops the stream
 * (the next read opens a fresh one at the same offset), so at end of file
 * clearerr also seeks to where it is. On stdin or a pipe the seek fails and
 * changes nothing. */
#ifndef RUMBLE_WASI_STDIO_H
#define RUMBLE_WASI_STDIO_H
#include <stdio.h>

static inline void rumble_clearerr(FILE *f) {
  if (feof(f))
    fseek(f, 0, SEEK_CUR);
  clearerr(f);
}

#undef clearerr
#define clearerr(f) rumble_clearerr(f)

#endif
