//===- remat-fuzz.cpp - mutation fuzzer of remat's passes and pipelines ---===//
//
// Part of the remat project.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Mutates MLIR inputs (the lit suite's) and runs every mutant that parses
/// through remat's passes and pipelines, each run in a forked child with a
/// time limit, and classifies the outcome:
///
///   success     the pipeline ran and the result verifies;
///   diagnostic  the pipeline failed with at least one error diagnostic;
///   silent      the pipeline failed without an error diagnostic (a bug);
///   crash       the child died on a signal, or on LLVM's fatal error
///               handler, or a sanitizer's report (a bug);
///   hang        the child outlived the time limit (a bug).
///
/// Mutants come from a seeded generator, so a run is reproduced by its
/// seed and options. Inputs that crash or hang are written to --save-dir
/// with the pipeline that did it.
///
//===----------------------------------------------------------------------===//

#include "remat/InitRemat.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <map>
#include <random>
#include <set>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace mlir;
namespace cl = llvm::cl;

static cl::list<std::string> inputs(cl::Positional, cl::desc("<seed inputs>"),
                                    cl::OneOrMore);
static cl::opt<unsigned> numMutants("mutants", cl::desc("Mutants to generate"),
                                    cl::init(1000));
static cl::opt<unsigned> seed("seed", cl::desc("Seed of the generator"),
                              cl::init(1));
static cl::opt<unsigned>
    perMutant("per-mutant",
              cl::desc("Pipelines each mutant that parses runs through, "
                       "taken in turn from the list (0: all)"),
              cl::init(0));
static cl::opt<unsigned>
    maxMutations("max-mutations",
                 cl::desc("Most mutations applied to one seed (at least 1)"),
                 cl::init(3));
static cl::opt<double> timeout("timeout", cl::desc("Seconds one run may take"),
                               cl::init(30));
static cl::opt<unsigned> jobs("jobs", cl::desc("Runs at a time"), cl::init(1));
static cl::opt<std::string>
    saveDir("save-dir",
            cl::desc("Where to write the inputs that crash or hang"),
            cl::init(""));
static cl::opt<std::string>
    pipelineList("pipelines",
                 cl::desc("';'-separated pass pipelines (default: every remat "
                          "pass and pipeline, several option sets each)"),
                 cl::init(""));
static cl::opt<unsigned>
    maxSeedBytes("max-seed-bytes",
                 cl::desc("Skip seed chunks larger than this (0: none)"),
                 cl::init(0));
static cl::opt<bool> listPipelines("list-pipelines",
                                   cl::desc("Print the pipelines and exit"),
                                   cl::init(false));
static cl::opt<bool> verbose("v", cl::desc("Print every run's outcome"),
                             cl::init(false));

/// Every remat pass and pipeline, with the option sets that reach the
/// planner's strategies, models and limits.
static const char *const kDefaultPipelines[] = {
    "builtin.module(remat-finalize)",
    "builtin.module(remat-finalize{barriers=false},canonicalize,cse)",
    "builtin.module(remat-apply-checkpoints,remat-finalize)",
    "builtin.module(remat-strip-barriers)",
    "builtin.module(remat-place-deallocs)",
    "builtin.module(remat-report)",
    "builtin.module(remat-test-print-costs)",
    "builtin.module(remat-test-print-liveness)",
    "builtin.module(remat-rematerialize{budget=60%})",
    "builtin.module(remat-rematerialize{budget=80% strategy=greedy "
    "remarks=true})",
    "builtin.module(remat-rematerialize{budget=70% strategy=optimal "
    "work-limit=100000 exact-work-limit=100000})",
    "builtin.module(remat-rematerialize{budget=70% strategy=exhaustive "
    "time-limit=10})",
    "builtin.module(remat-rematerialize{strategy=none budget=90%})",
    "builtin.module(remat-rematerialize{strategy=full})",
    "builtin.module(remat-rematerialize{strategy=every-n every=3})",
    "builtin.module(remat-rematerialize{strategy=sqrt})",
    "builtin.module(remat-rematerialize{strategy=selective})",
    "builtin.module(remat-rematerialize{strategy=mincut})",
    "builtin.module(remat-rematerialize{budget=40% budget-on=activations "
    "cost=flops})",
    "builtin.module(remat-rematerialize{budget=75% peak-model=bufferized "
    "recompute-twice=never})",
    "builtin.module(remat-rematerialize{budget=50% recompute-twice=to-fit "
    "verify=false})",
    "builtin.module(remat-rematerialize{budget=65% fuse-pointwise=true "
    "target=cpu})",
    "builtin.module(remat-rematerialize{budget=60% rewrites=auto})",
    "builtin.module(remat-chunk-loss{chunk-size=4})",
    "builtin.module(remat-fuse-attention{block-size=4},remat-lower-to-llvm)",
    "builtin.module(remat-bufferize)",
    "builtin.module(remat-lower-to-llvm)",
    "builtin.module(remat-lower-to-nvvm{format=nvvm})",
    "builtin.module(convert-remat-to-gpu{max-rows=4},remat-bufferize,remat-"
    "gpu-launch-kernel-calls)",
    "builtin.module(remat-gpu-launch-kernel-calls)",
    "builtin.module(remat-bufferize,remat-gpu-device-memory,func.func(remat-"
    "gpu-tile-contractions,remat-gpu-parallel-reductions,remat-gpu-map-linalg)"
    ",remat-gpu-wrap-host-compute)",
    "builtin.module(remat-bufferize,func.func(remat-gpu-tile-contractions{"
    "mma=tf32}))",
};

namespace {
enum class Outcome { Success, Diagnostic, Silent, Crash, Hang };

const char *outcomeName(Outcome o) {
  switch (o) {
  case Outcome::Success:
    return "success";
  case Outcome::Diagnostic:
    return "diagnostic";
  case Outcome::Silent:
    return "silent";
  case Outcome::Crash:
    return "crash";
  case Outcome::Hang:
    return "hang";
  }
  return "?";
}

/// Child exit codes.
constexpr int kExitSuccess = 0, kExitDiagnostic = 1, kExitSilent = 2,
              kExitFatal = 3;

/// A text mutator over MLIR sources.
class Mutator {
public:
  Mutator(std::mt19937_64 &rng, const std::vector<std::string> &pool)
      : rng(rng), pool(pool) {}

  std::string mutate(std::string text) {
    unsigned count = 1 + pick(std::max(1u, (unsigned)maxMutations));
    for (unsigned i = 0; i < count; ++i)
      text = mutateOnce(text);
    return text;
  }

private:
  size_t pick(size_t n) { return n == 0 ? 0 : rng() % n; }

  static std::vector<std::string> lines(const std::string &text) {
    std::vector<std::string> out;
    llvm::SmallVector<StringRef> parts;
    StringRef(text).split(parts, '\n');
    for (StringRef p : parts)
      out.push_back(p.str());
    return out;
  }
  static std::string join(const std::vector<std::string> &ls) {
    std::string out;
    for (size_t i = 0; i < ls.size(); ++i) {
      out += ls[i];
      if (i + 1 < ls.size())
        out += '\n';
    }
    return out;
  }

  /// The [begin, end) ranges of tokens of `text` that satisfy `pred`, where
  /// a token is a maximal run of identifier characters (and '%', '#',
  /// '@', '.').
  template <typename Pred>
  std::vector<std::pair<size_t, size_t>> tokens(const std::string &text,
                                                Pred pred) {
    std::vector<std::pair<size_t, size_t>> out;
    auto isTok = [](char c) {
      return llvm::isAlnum(c) || c == '_' || c == '%' || c == '#' || c == '@' ||
             c == '.' || c == '-' || c == '$';
    };
    size_t i = 0;
    while (i < text.size()) {
      if (!isTok(text[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < text.size() && isTok(text[j]))
        ++j;
      if (pred(StringRef(text).slice(i, j)))
        out.push_back({i, j});
      i = j;
    }
    return out;
  }

  std::string replaceToken(const std::string &text, size_t b, size_t e,
                           StringRef with) {
    return text.substr(0, b) + with.str() + text.substr(e);
  }

  std::string mutateOnce(const std::string &text) {
    static const char *const kNumbers[] = {"0",
                                           "1",
                                           "-1",
                                           "2",
                                           "3",
                                           "7",
                                           "64",
                                           "255",
                                           "1024",
                                           "65536",
                                           "2147483647",
                                           "2147483648",
                                           "4294967296",
                                           "9223372036854775807",
                                           "-9223372036854775808",
                                           "1.0e38",
                                           "nan",
                                           "0x7FC00000"};
    static const char *const kTypes[] = {
        "f32", "f16", "bf16",  "f64",      "i1",          "i8",
        "i32", "i64", "index", "f8E4M3FN", "complex<f32>"};
    static const char *const kDims[] = {
        "0", "1", "3", "?", "1048576", "4294967296", "9223372036854775807"};
    std::vector<std::string> ls = lines(text);
    switch (pick(13)) {
    case 0: { // Delete a line.
      if (ls.size() > 1)
        ls.erase(ls.begin() + pick(ls.size()));
      return join(ls);
    }
    case 1: { // Duplicate a line as it is.
      size_t i = pick(ls.size());
      ls.insert(ls.begin() + i, ls[i]);
      return join(ls);
    }
    case 2: { // Duplicate a line, renaming what it defines.
      size_t i = pick(ls.size());
      std::string copy = ls[i];
      size_t eq = copy.find(" = ");
      size_t pct = copy.find('%');
      if (eq != std::string::npos && pct != std::string::npos && pct < eq) {
        size_t end = pct + 1;
        while (end < copy.size() &&
               (llvm::isAlnum(copy[end]) || copy[end] == '_'))
          ++end;
        copy.insert(end, "_dup" + std::to_string(pick(100)));
      }
      ls.insert(ls.begin() + i + 1, copy);
      return join(ls);
    }
    case 3: { // Swap two lines.
      if (ls.size() > 1)
        std::swap(ls[pick(ls.size())], ls[pick(ls.size())]);
      return join(ls);
    }
    case 4: { // A number by an interesting one.
      auto nums = tokens(text, [](StringRef t) {
        return !t.empty() &&
               (llvm::isDigit(t[0]) ||
                (t[0] == '-' && t.size() > 1 && llvm::isDigit(t[1])));
      });
      if (nums.empty())
        return text;
      auto [b, e] = nums[pick(nums.size())];
      return replaceToken(text, b, e, kNumbers[pick(std::size(kNumbers))]);
    }
    case 5: { // An element type by another.
      auto types = tokens(text, [](StringRef t) {
        return llvm::is_contained(
            std::initializer_list<StringRef>{"f32", "f16", "bf16", "f64", "i1",
                                             "i8", "i32", "i64", "index"},
            t);
      });
      if (types.empty())
        return text;
      auto [b, e] = types[pick(types.size())];
      return replaceToken(text, b, e, kTypes[pick(std::size(kTypes))]);
    }
    case 6: { // A shape dimension by another.
      std::vector<std::pair<size_t, size_t>> dims;
      for (size_t at = text.find("tensor<"); at != std::string::npos;
           at = text.find("tensor<", at + 1)) {
        size_t i = at + 7;
        while (i < text.size() &&
               (llvm::isDigit(text[i]) || text[i] == 'x' || text[i] == '?')) {
          size_t j = i;
          while (j < text.size() && (llvm::isDigit(text[j]) || text[j] == '?'))
            ++j;
          if (j > i && j < text.size() && text[j] == 'x')
            dims.push_back({i, j});
          i = j + 1;
        }
      }
      if (dims.empty())
        return text;
      auto [b, e] = dims[pick(dims.size())];
      return replaceToken(text, b, e, kDims[pick(std::size(kDims))]);
    }
    case 7: { // A use of a value by another value.
      auto names =
          tokens(text, [](StringRef t) { return t.size() > 1 && t[0] == '%'; });
      if (names.size() < 2)
        return text;
      auto [b, e] = names[pick(names.size())];
      auto [ob, oe] = names[pick(names.size())];
      return replaceToken(text, b, e, text.substr(ob, oe - ob));
    }
    case 8: { // An op name by another op name of the pool.
      auto isOp = [](StringRef t) {
        size_t dot = t.find('.');
        return dot != StringRef::npos && dot > 0 && t[0] != '%' &&
               t[0] != '#' && t[0] != '@' && !llvm::isDigit(t[0]) &&
               llvm::all_of(t.take_front(dot), llvm::isAlpha);
      };
      auto ops = tokens(text, isOp);
      const std::string &donor = pool[pick(pool.size())];
      auto donorOps = tokens(donor, isOp);
      if (ops.empty() || donorOps.empty())
        return text;
      auto [b, e] = ops[pick(ops.size())];
      auto [db, de] = donorOps[pick(donorOps.size())];
      return replaceToken(text, b, e, donor.substr(db, de - db));
    }
    case 9: { // A line of another seed.
      std::vector<std::string> donor = lines(pool[pick(pool.size())]);
      ls.insert(ls.begin() + pick(ls.size() + 1), donor[pick(donor.size())]);
      return join(ls);
    }
    case 10: { // Delete a range of characters.
      if (text.size() < 2)
        return text;
      size_t b = pick(text.size()), n = 1 + pick(16);
      return text.substr(0, b) + text.substr(std::min(text.size(), b + n));
    }
    case 11: { // Duplicate a range of characters.
      if (text.empty())
        return text;
      size_t b = pick(text.size()), n = 1 + pick(32);
      std::string range = text.substr(b, n);
      return text.substr(0, b) + range + text.substr(b);
    }
    default: { // A quoted string (a tag, a policy name) by another.
      static const char *const kStrings[] = {"\"\"", "\"x\"", "\"blocks.0.mm\"",
                                             "\"blocks.9999999999.a\"",
                                             "\"a.0.b.1\""};
      std::vector<size_t> quotes;
      for (size_t i = 0; i < text.size(); ++i)
        if (text[i] == '"')
          quotes.push_back(i);
      if (quotes.size() < 2)
        return text;
      size_t k = pick(quotes.size() / 2) * 2;
      return text.substr(0, quotes[k]) + kStrings[pick(std::size(kStrings))] +
             text.substr(quotes[k + 1] + 1);
    }
    }
  }

  std::mt19937_64 &rng;
  const std::vector<std::string> &pool;
};
} // namespace

/// Exits the child on LLVM's fatal errors instead of printing and exiting 1,
/// so the parent sees them as crashes.
static void onFatalError(void *, const char *reason, bool) {
  llvm::errs() << "remat-fuzz: LLVM fatal error: " << reason << "\n";
  llvm::errs().flush();
  _exit(kExitFatal);
}

// In a sanitized build, a report ends the child with the sanitizer's exit
// code (1 by default, which would read as a diagnostic): its death callback
// exits with kExitFatal instead.
extern "C" void __sanitizer_set_death_callback(void (*)(void))
    __attribute__((weak));
static void onSanitizerReport() { _exit(kExitFatal); }

/// Runs in the child: parses `text` and, when `pipeline` is not empty, runs
/// it. Exits with kExit*.
[[noreturn]] static void runChild(DialectRegistry &registry,
                                  const std::string &text,
                                  const std::string &pipeline) {
  llvm::install_fatal_error_handler(onFatalError);
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback(onSanitizerReport);
  // Diagnostics go to /dev/null unless -v; the counts are what matter.
  if (!verbose) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  }
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  context.printOpOnDiagnostic(false);
  unsigned errors = 0;
  context.getDiagEngine().registerHandler([&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error)
      ++errors;
    if (verbose)
      llvm::errs() << d << "\n";
    return success();
  });
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, ParserConfig(&context));
  if (!module)
    _exit(errors ? kExitDiagnostic : kExitSilent);
  if (pipeline.empty())
    _exit(kExitSuccess);
  // (The pipelines are written as mlir-opt's --pass-pipeline takes them,
  // anchored on the module; the pass manager is the module's.)
  PassManager pm(&context, ModuleOp::getOperationName());
  StringRef inner = pipeline;
  if (!inner.consume_front("builtin.module(") || !inner.consume_back(")"))
    inner = pipeline;
  std::string parseErrors;
  llvm::raw_string_ostream os(parseErrors);
  if (failed(parsePassPipeline(inner, pm, os))) {
    llvm::errs() << "remat-fuzz: bad pipeline '" << pipeline
                 << "': " << parseErrors << "\n";
    _exit(kExitFatal);
  }
  if (failed(pm.run(*module)))
    _exit(errors ? kExitDiagnostic : kExitSilent);
  // The result must print (a printer crash is a crash too).
  std::string printed;
  llvm::raw_string_ostream out(printed);
  module->print(out);
  _exit(kExitSuccess);
}

namespace {
/// A forked run in flight.
struct Run {
  pid_t pid;
  std::chrono::steady_clock::time_point start;
  size_t mutant;
  size_t pipeline; ///< SIZE_MAX: the parse check.
};
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAllPasses();
  remat::registerRematPassesAndPipelines();
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  remat::registerRematDialects(registry);
  registerAllGPUToLLVMIRTranslations(registry);
  cl::ParseCommandLineOptions(argc, argv,
                              "remat mutation fuzzer: mutates MLIR inputs and "
                              "runs them through remat's passes\n");

  std::vector<std::string> pipelines;
  if (pipelineList.empty())
    pipelines.assign(std::begin(kDefaultPipelines),
                     std::end(kDefaultPipelines));
  else
    for (StringRef p : llvm::split(pipelineList, ';'))
      if (!p.trim().empty())
        pipelines.push_back(p.trim().str());
  if (listPipelines) {
    for (const std::string &p : pipelines)
      llvm::outs() << p << "\n";
    return 0;
  }

  // Seeds: each input split at `// -----`, as -split-input-file does.
  std::vector<std::string> seeds;
  std::vector<std::string> seedNames;
  for (const std::string &path : inputs) {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer) {
      llvm::errs() << "remat-fuzz: cannot read " << path << "\n";
      return 2;
    }
    llvm::SmallVector<StringRef> chunks;
    (*buffer)->getBuffer().split(chunks, "// -----");
    for (auto [i, chunk] : llvm::enumerate(chunks)) {
      if (maxSeedBytes && chunk.size() > maxSeedBytes)
        continue;
      seeds.push_back(chunk.str());
      seedNames.push_back(path + "#" + std::to_string(i));
    }
  }
  if (seeds.empty()) {
    llvm::errs() << "remat-fuzz: no seeds\n";
    return 2;
  }

  // Every mutant up front: the sequence depends on the seed alone.
  std::mt19937_64 rng(seed);
  Mutator mutator(rng, seeds);
  std::vector<std::string> mutants;
  std::vector<size_t> mutantSeed;
  for (unsigned i = 0; i < numMutants; ++i) {
    size_t s = rng() % seeds.size();
    mutantSeed.push_back(s);
    mutants.push_back(mutator.mutate(seeds[s]));
  }

  if (!saveDir.empty())
    llvm::sys::fs::create_directories(saveDir);
  // Counts per pipeline and outcome; the parse check is row "parse".
  std::map<std::string, std::map<Outcome, unsigned>> counts;
  std::vector<std::string> bugs;
  std::vector<size_t> nextPipeline(mutants.size(), 0);
  unsigned parsed = 0, runs = 0;

  // Work items: first each mutant's parse check, then its pipelines.
  std::vector<std::pair<size_t, size_t>> queue;
  for (size_t m = 0; m < mutants.size(); ++m)
    queue.push_back({m, SIZE_MAX});
  size_t head = 0;
  std::vector<Run> running;
  unsigned width = std::max(1u, (unsigned)jobs);
  auto classify = [](int status) {
    if (WIFSIGNALED(status))
      return Outcome::Crash;
    switch (WEXITSTATUS(status)) {
    case kExitSuccess:
      return Outcome::Success;
    case kExitDiagnostic:
      return Outcome::Diagnostic;
    case kExitSilent:
      return Outcome::Silent;
    default:
      return Outcome::Crash;
    }
  };
  auto record = [&](const Run &run, Outcome outcome) {
    std::string row =
        run.pipeline == SIZE_MAX ? "(parse)" : pipelines[run.pipeline];
    ++counts[row][outcome];
    ++runs;
    if (verbose)
      llvm::errs() << "mutant " << run.mutant << " of "
                   << seedNames[mutantSeed[run.mutant]] << ": " << row << ": "
                   << outcomeName(outcome) << "\n";
    if (outcome == Outcome::Crash || outcome == Outcome::Hang ||
        outcome == Outcome::Silent) {
      std::string file;
      if (!saveDir.empty()) {
        file = (saveDir + "/mutant-" + std::to_string(seed) + "-" +
                std::to_string(run.mutant) + ".mlir");
        std::error_code ec;
        llvm::raw_fd_ostream os(file, ec);
        if (!ec)
          os << "// " << outcomeName(outcome) << " in: " << row << "\n"
             << "// from: " << seedNames[mutantSeed[run.mutant]] << "\n"
             << mutants[run.mutant];
      }
      bugs.push_back(std::string(outcomeName(outcome)) + ": mutant " +
                     std::to_string(run.mutant) + " (" +
                     seedNames[mutantSeed[run.mutant]] + ") in " + row +
                     (file.empty() ? "" : " -> " + file));
    }
    // After a clean parse, the mutant's pipelines.
    if (run.pipeline == SIZE_MAX && outcome == Outcome::Success) {
      ++parsed;
      size_t n = perMutant == 0 ? pipelines.size()
                                : std::min<size_t>(perMutant, pipelines.size());
      // Taken in turn, so each pipeline sees its share of the mutants.
      for (size_t k = 0; k < n; ++k)
        queue.push_back({run.mutant, (parsed * n + k) % pipelines.size()});
    }
  };

  auto started = std::chrono::steady_clock::now();
  while (head < queue.size() || !running.empty()) {
    while (running.size() < width && head < queue.size()) {
      auto [m, p] = queue[head++];
      llvm::outs().flush();
      llvm::errs().flush();
      pid_t pid = fork();
      if (pid < 0) {
        perror("remat-fuzz: fork");
        return 2;
      }
      if (pid == 0)
        runChild(registry, mutants[m], p == SIZE_MAX ? "" : pipelines[p]);
      running.push_back({pid, std::chrono::steady_clock::now(), m, p});
    }
    // Reap what finished; kill what ran too long.
    bool any = false;
    for (size_t i = 0; i < running.size();) {
      int status = 0;
      pid_t r = waitpid(running[i].pid, &status, WNOHANG);
      if (r == running[i].pid) {
        record(running[i], classify(status));
        running.erase(running.begin() + i);
        any = true;
        continue;
      }
      double seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - running[i].start)
                           .count();
      if (seconds > timeout) {
        kill(running[i].pid, SIGKILL);
        waitpid(running[i].pid, &status, 0);
        record(running[i], Outcome::Hang);
        running.erase(running.begin() + i);
        any = true;
        continue;
      }
      ++i;
    }
    if (!any && !running.empty())
      std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();

  // The summary: one row per pipeline, the outcomes as columns.
  std::map<Outcome, unsigned> total;
  llvm::outs() << "remat-fuzz: seed " << seed << ", " << mutants.size()
               << " mutants of " << seeds.size() << " seed chunks, " << parsed
               << " parsed and verified, " << runs << " runs in "
               << llvm::format("%.0f", elapsed) << " s\n";
  llvm::outs() << llvm::format("  %-10s %-10s %-7s %-6s %-6s  %s\n", "success",
                               "diagnostic", "silent", "crash", "hang",
                               "pipeline");
  for (auto &[row, byOutcome] : counts) {
    for (auto &[o, n] : byOutcome)
      total[o] += row == "(parse)" ? 0 : n;
    llvm::outs() << llvm::format(
        "  %-10u %-10u %-7u %-6u %-6u  %s\n", byOutcome[Outcome::Success],
        byOutcome[Outcome::Diagnostic], byOutcome[Outcome::Silent],
        byOutcome[Outcome::Crash], byOutcome[Outcome::Hang], row.c_str());
  }
  // The parse check runs MLIR's own parsers (upstream code): its bugs are
  // counted apart from the pipelines'.
  unsigned crashes = 0, hangs = 0, silent = 0;
  for (auto &[row, byOutcome] : counts) {
    if (row == "(parse)")
      continue;
    crashes += byOutcome[Outcome::Crash];
    hangs += byOutcome[Outcome::Hang];
    silent += byOutcome[Outcome::Silent];
  }
  std::map<Outcome, unsigned> &parse = counts["(parse)"];
  llvm::outs() << "remat-fuzz: pipelines: " << total[Outcome::Success]
               << " success, " << total[Outcome::Diagnostic] << " diagnostic; "
               << crashes << " crashes, " << hangs << " hangs, " << silent
               << " silent failures\n";
  llvm::outs() << "remat-fuzz: parser (MLIR's own): " << parse[Outcome::Success]
               << " parsed, " << parse[Outcome::Diagnostic] << " rejected; "
               << parse[Outcome::Crash] << " crashes, " << parse[Outcome::Hang]
               << " hangs, " << parse[Outcome::Silent] << " silent failures\n";
  for (const std::string &b : bugs)
    llvm::outs() << "  " << b << "\n";
  unsigned parserBugs =
      parse[Outcome::Crash] + parse[Outcome::Hang] + parse[Outcome::Silent];
  return crashes + hangs + silent + parserBugs == 0 ? 0 : 1;
}
