// A tiny Node addon (N-API) for the criu backend: `reseed()` stirs fresh kernel entropy into the
// OpenSSL random generator of the node process that loads it.
//
// Why: every copy restored from one criu image starts with the template's OpenSSL DRBG state, and
// OpenSSL notices a fork by a change of getpid(), which restored copies never show (each is PID 1
// of its own pid namespace, as the template was). Without this, crypto.randomBytes,
// crypto.randomUUID and crypto.getRandomValues answer the same bytes in every copy (measured).
// RAND_add reseeds the primary DRBG; the per-thread DRBGs notice their parent's reseed and reseed
// from it on their next use.
//
// The N-API functions and OpenSSL's are resolved against the node binary when it loads the addon
// (node exports both); their prototypes are declared here so that building needs no node headers.
// Thread-safety: call from the JavaScript thread (OpenSSL's RAND_add is itself thread-safe).

#include <sys/random.h>

#include <cstddef>

extern "C" {

typedef struct napi_env__* napi_env;
typedef struct napi_value__* napi_value;
typedef struct napi_callback_info__* napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

extern napi_status napi_create_function(napi_env env, const char* name, size_t length,
                                        napi_callback callback, void* data, napi_value* result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char* name,
                                           napi_value value);
extern napi_status napi_get_boolean(napi_env env, bool value, napi_value* result);
extern void RAND_add(const void* buffer, int length, double randomness);
extern int RAND_status(void);

}  // extern "C"

namespace {

napi_value Reseed(napi_env env, napi_callback_info info) {
  (void)info;
  unsigned char entropy[48];
  bool ok = getrandom(entropy, sizeof(entropy), 0) == static_cast<ssize_t>(sizeof(entropy));
  if (ok) {
    RAND_add(entropy, static_cast<int>(sizeof(entropy)), static_cast<double>(sizeof(entropy)));
    ok = RAND_status() == 1;
  }
  napi_value result = nullptr;
  napi_get_boolean(env, ok, &result);
  return result;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env,
                                                                          napi_value exports) {
  napi_value function = nullptr;
  if (napi_create_function(env, "reseed", 6, Reseed, nullptr, &function) == 0) {
    napi_set_named_property(env, exports, "reseed", function);
  }
  return exports;
}
