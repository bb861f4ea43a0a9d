/* Minimal setjmp.h for wasm32-wasi with LLVM's Wasm-EH based setjmp/longjmp
 * lowering (-mllvm -wasm-enable-sjlj). Debian's wasi-libc (2022) lacks it;
 * only used on the Debian clang route (zig ships its own). */
#ifndef _SETJMP_H
#define _SETJMP_H
#ifdef __cplusplus
extern "C" {
#endif
#if !defined(__wasm_exception_handling__)
#error "setjmp/longjmp need -mllvm -wasm-enable-sjlj (Wasm exception handling)"
#endif
typedef struct __jmp_buf_tag {
  unsigned long __jb[8];
  unsigned long __fl;
  unsigned long __ss[128 / sizeof(long)];
} jmp_buf[1];
typedef jmp_buf sigjmp_buf;
int setjmp(jmp_buf) __attribute__((__returns_twice__));
_Noreturn void longjmp(jmp_buf, int);
int _setjmp(jmp_buf) __attribute__((__returns_twice__));
_Noreturn void _longjmp(jmp_buf, int);
#define setjmp setjmp
#ifdef __cplusplus
}
#endif
#endif
