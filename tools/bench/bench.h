// SPDX-License-Identifier: MIT
// asyncdev-bench: what every part of the tool shares. The options, the
// result of one model, the data pattern the models read, the nodes and
// buffers they read it with, and the stop signals.
//
// Layout of tools/bench/ (one file per concern, one per model family):
//   main.cpp         option parsing, the run of each comparison
//   options.cpp      --help, --dist
//   meter.h          counting operations, time and rusage of one model
//   device.cpp/.h    the nodes' configuration for a run and its restore
//   report.cpp/.h    the table, the JSON, the gnuplot chart
//   model.h          the interface every model implements, and the list
//   models.cpp       that list
//   run.cpp          one model from start to Result
//   async.h          the loop shared by posix-aio, libaio and uring
//   fed_fifo.cpp/.h  the feeder process and record reassembly (readiness models)
//   model_*.cpp      the models
//   batch.cpp        --batch
#pragma once

#include "../common.h"

#include <asyncdev/asyncdev.h>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bench {

using tool::fail;
using tool::usage_error;
using tool::warn;

// ---------------------------------------------------------------- options

struct Options {
    std::uint64_t depth = 8;
    std::uint64_t size = 4096;
    std::uint64_t latency_ns = 100000;
    std::uint64_t jitter_ns = 0;
    std::uint64_t channels = 0; // 0: = depth
    std::uint64_t ops = 2000;
    std::uint64_t warmup = 200;
    double max_time = 10;
    std::vector<std::string> models;
    const char* mem = asyncdev::mem_path;
    const char* fifo = asyncdev::fifo_path;
    const char* json = nullptr;
    const char* plot = nullptr;
    const char* plot_from = nullptr;
    std::uint64_t batch = 0;
    // --dist: the service time distribution (base = --latency-ns) that
    // replaces --jitter-ns on both nodes; dist_text as given, for the output.
    std::optional<asyncdev::Latency> dist;
    std::string dist_text;
    bool quiet = false;
    // --same-device[=fifo|mem]: the comparison on one node at a time (both
    // parts unless one is named); --rate and --duration are its FIFO part's.
    bool same_device = false;
    bool same_fifo = true, same_mem = true;
    std::uint64_t rate = 2000;
    double duration = 3;
    std::string command; // argv, for the JSON and the plot title
};

/// --dist SPEC: KIND[:PARAM][:TAIL_PPM:TAIL_MULT]; nullopt if malformed.
std::optional<asyncdev::Latency> parse_dist(const std::string& spec);
/// --help.
void usage();

// ---------------------------------------------------------------- signals

/// SIGINT/SIGTERM are blocked in every thread from the start; the bench
/// looks for them with sigpending() between operations (no handler).
extern sigset_t stop_signals;
extern std::atomic<bool> interrupted;
/// True once SIGINT or SIGTERM is pending (and from then on).
bool check_interrupt();

// ---------------------------------------------------------------- results

struct Result {
    std::string model;
    std::string node;
    std::uint64_t ops = 0;
    std::uint64_t bytes = 0;
    double seconds = 0;
    double ops_per_s = 0;
    double mib_per_s = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0;
    double cpu_us_per_op = 0;
    double ctxsw_per_op = 0;
    std::uint64_t io_errors = 0;
    std::uint64_t bad_data = 0;
    bool ran = false;
    bool applicable = true; // false: not run because the model does not apply to the node
    std::string error; // why the model could not run (or does not apply)
    std::string notes;
};

// ---------------------------------------------------------------- the data

/// The pattern: `nslots` slots of `size` bytes; every 8-byte word holds a
/// hash of its offset in the image, so a slot read from the wrong place or
/// a torn record does not compare equal.
struct Image {
    std::size_t size = 0, nslots = 0;
    std::vector<std::byte> bytes;
    const std::byte* slot(std::uint64_t k) const { return bytes.data() + (k % nslots) * size; }
    std::uint64_t offset(std::uint64_t k) const { return (k % nslots) * size; }
};

Image make_image(std::size_t size, std::size_t nslots);

/// What a model run gets: the options, the pattern, the FIFO's capacity.
struct Ctx {
    const Options& o;
    const Image& image;
    std::uint64_t fifo_capacity;
};

/// Opens `path`; a missing node of an unloaded module exits with what to
/// do (tool::open_error), other errors throw std::system_error.
asyncdev::Device open_node(const char* path, int flags);
/// `n` opens of `path`.
std::vector<asyncdev::Device> open_streams(const char* path, std::uint64_t n, int flags);

/// Page-aligned buffers, one per stream.
struct Buffers {
    Buffers(std::size_t n, std::size_t size) : size_(size), mem_(n * round(size) + 4096)
    {
        base_ = mem_.data() + (4096 - reinterpret_cast<std::uintptr_t>(mem_.data()) % 4096) % 4096;
    }
    std::byte* operator[](std::size_t i) { return base_ + i * round(size_); }
    static std::size_t round(std::size_t s) { return (s + 4095) / 4096 * 4096; }
    std::size_t size_;
    std::vector<std::byte> mem_;
    std::byte* base_;
};

// ---------------------------------------------------------------- text

/// snprintf of one number.
std::string fmt(const char* f, double v);
/// "1.25 what/op": n per operation.
std::string per_op(std::uint64_t n, std::uint64_t ops, const char* what);
/// The kernel's clocksource ("tsc", "hpet", ...), "unknown" if unreadable.
std::string clocksource();
/// A clocksource whose clock_gettime needs no system call.
bool cheap_clock(const std::string& cs);
/// "model name" of /proc/cpuinfo ("QEMU TCG CPU version 2.5+" under emulation).
std::string cpu_model();

} // namespace bench
