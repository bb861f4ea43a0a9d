/* Runtime for LLVM's Wasm-EH setjmp/longjmp lowering (-mllvm -wasm-enable-sjlj),
 * which Lua's error handling (luaD_throw) compiles to. Same ABI as wasi-libc's
 * libsetjmp (libc-top-half/musl/src/setjmp/wasm32/rt.c), which neither Debian's
 * wasi-libc nor Rust's self-contained wasi libc.a ship. */
#include <stddef.h>
#include <stdint.h>
void __wasm_setjmp(void *env, uint32_t label, void *func_invocation_id);
uint32_t __wasm_setjmp_test(void *env, void *func_invocation_id);
void __wasm_longjmp(void *env, int val);
struct jmp_buf_impl {
  void *func_invocation_id;
  uint32_t label;
  struct arg { void *env; int val; } arg;
};
void __wasm_setjmp(void *env, uint32_t label, void *func_invocation_id) {
  struct jmp_buf_impl *jb = env;
  if (label == 0 || func_invocation_id == NULL) __builtin_trap();
  jb->func_invocation_id = func_invocation_id;
  jb->label = label;
}
uint32_t __wasm_setjmp_test(void *env, void *func_invocation_id) {
  struct jmp_buf_impl *jb = env;
  if (jb->label == 0 || func_invocation_id == NULL) __builtin_trap();
  return jb->func_invocation_id == func_invocation_id ? jb->label : 0;
}
void __wasm_longjmp(void *env, int val) {
  struct jmp_buf_impl *jb = env;
  if (val == 0) val = 1;
  jb->arg.env = env;
  jb->arg.val = val;
  __builtin_wasm_throw(1, &jb->arg); /* 1 == C_LONGJMP tag */
}

/* The exception tag thrown by __wasm_longjmp and caught by the lowered setjmp
 * code. LLVM >= 21 expects compiler-rt to define it (__c_longjmp.S); Rust's
 * compiler_builtins does not, so define it here. */
__asm__(".globl __c_longjmp\n"
        ".tagtype __c_longjmp i32\n"
        "__c_longjmp:\n");
