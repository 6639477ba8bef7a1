//===- RematAOTMain.cpp - main() of an ahead-of-time compiled GPU step ----===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// The harness of a training step compiled ahead of time for the GPU: link
/// it with the host object that `remat-lower-to-nvvm`, `mlir-translate
/// --mlir-to-llvmir` and `llc` make of a module with a
/// `func.func @remat_main()`, with the CUDA runtime (RematCUDARuntime) and
/// with libcuda.
///
/// `remat_main` loads its inputs with `rematLoadTensor*` from
/// `$REMAT_INPUTS`, times and measures the step with `rematTimer*` and
/// `rematHeap*`, and saves its results with `rematSaveTensorF32` to
/// `$REMAT_OUTPUTS`. This harness sets those variables from its options,
/// prints the device it runs on and calls `remat_main` as often as asked:
///
/// \code
///   step --inputs DIR [--outputs DIR] [--repeat N]
/// \endcode
///
//===----------------------------------------------------------------------===//

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// The names below are fixed by the generated code and the CUDA runtime.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {
/// The step: `func.func @remat_main()` of the compiled module.
void remat_main(void);
/// Prints `remat-device: name="..." cc=X.Y total_bytes=N` (CUDA runtime).
void rematCUDAPrintDevice(void);
}
// NOLINTEND(readability-identifier-naming)

/// Prints the usage to `out`.
static void printUsage(std::FILE *out, const char *program) {
  std::fprintf(out,
               "usage: %s [--inputs DIR] [--outputs DIR] [--repeat N]\n"
               "\n"
               "Runs the compiled training step (remat_main) N times on the "
               "GPU.\n"
               "  --inputs DIR   read input tensor <id> from DIR/<id>.bin "
               "(sets REMAT_INPUTS)\n"
               "  --outputs DIR  write saved tensor <id> to DIR/<id>.bin "
               "(sets REMAT_OUTPUTS)\n"
               "  --repeat N     run the step N times (default 1)\n"
               "  --help         print this message\n",
               program);
}

/// Reports a bad command line and exits with status 2.
[[noreturn]] static void usageError(const char *program, const char *message,
                                    const char *argument) {
  std::fprintf(stderr, "%s: %s%s%s\n", program, message, argument ? ": " : "",
               argument ? argument : "");
  printUsage(stderr, program);
  std::exit(2);
}

/// Sets `variable` to `value` for the runtime, or exits.
static void setVariable(const char *program, const char *variable,
                        const char *value) {
  if (setenv(variable, value, /*overwrite=*/1) != 0) {
    std::fprintf(stderr, "%s: cannot set %s: %s\n", program, variable,
                 std::strerror(errno));
    std::exit(2);
  }
}

int main(int argc, char **argv) {
  const char *program = argc > 0 ? argv[0] : "remat-aot";
  long repeat = 1;
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    if (std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0) {
      printUsage(stdout, program);
      return 0;
    }
    // Each option takes a value, as `--opt VALUE` or `--opt=VALUE`.
    const char *options[] = {"--inputs", "--outputs", "--repeat"};
    const char *option = nullptr;
    const char *value = nullptr;
    for (const char *candidate : options) {
      size_t length = std::strlen(candidate);
      if (std::strcmp(arg, candidate) == 0) {
        if (i + 1 >= argc)
          usageError(program, "missing value of option", arg);
        option = candidate;
        value = argv[++i];
        break;
      }
      if (std::strncmp(arg, candidate, length) == 0 && arg[length] == '=') {
        option = candidate;
        value = arg + length + 1;
        break;
      }
    }
    if (!option)
      usageError(program, "unknown argument", arg);
    if (!*value)
      usageError(program, "empty value of option", option);
    if (std::strcmp(option, "--inputs") == 0) {
      setVariable(program, "REMAT_INPUTS", value);
    } else if (std::strcmp(option, "--outputs") == 0) {
      setVariable(program, "REMAT_OUTPUTS", value);
    } else {
      char *end = nullptr;
      errno = 0;
      repeat = std::strtol(value, &end, 10);
      if (errno != 0 || *end || repeat < 1)
        usageError(program, "--repeat needs a positive integer", value);
    }
  }

  rematCUDAPrintDevice();
  for (long i = 0; i < repeat; ++i)
    remat_main();
  std::fflush(stdout);
  return 0;
}
