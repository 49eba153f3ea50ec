// SPDX-License-Identifier: MIT
// asyncdev-bench: the interface of an I/O model and the list of them (like
// fio's engines/: one file per model, model_<name>.cpp, behind one entry).
#pragma once

#include "bench.h"
#include "meter.h"
#include "producer.h"

#include <string>
#include <vector>

namespace bench {

class DeviceSetup;

/// Runs one model of the feeder comparison: issues reads until `m` says
/// stop (m.complete() or m.poll_stop()), counts each finished operation with
/// m.complete(), leaves the measured latencies in `lat` and the I/O errors,
/// wrong data and notes in `r`. Throws on a setup failure (the model did
/// not run). Called after m was constructed; calls m.begin() itself, just
/// before its first request.
using RunFn = void (*)(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);

struct Model {
    const char* name;        ///< as in --models
    bool fifo;               ///< reads the feeder's FIFO, else /dev/asyncmem
    const char* description; ///< one line, for --help
    RunFn run;               ///< the feeder comparison (on its node)
    ProducerFn on_producer;  ///< --same-device: on the producer-driven FIFO
    /// --same-device: why the model does not apply to /dev/asyncmem, or
    /// nullptr if it does (then `run` with fifo false is its mem run).
    const char* mem_na;
};

/// Every model, in the order of the table and of --models all.
const std::vector<Model>& models();
/// The model called `name`, or nullptr.
const Model* find_model(const std::string& name);
/// The names of models(), in order.
std::vector<std::string> model_names();

// The models (model_<name>.cpp).
void run_blocking(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);
void run_nonblock(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);
void run_epoll(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);
void run_sigio(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);
void run_posix_aio(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);
void run_libaio(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);
void run_uring(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat);
void producer_blocking(const Options& o, RecordSink& sink);
void producer_nonblock(const Options& o, RecordSink& sink);
void producer_epoll(const Options& o, RecordSink& sink);
void producer_sigio(const Options& o, RecordSink& sink);
void producer_posix_aio(const Options& o, RecordSink& sink);
void producer_libaio(const Options& o, RecordSink& sink);
void producer_uring(const Options& o, RecordSink& sink);

/// One model from setup to its Result (run.cpp): the Meter, the run, the
/// figures. A model that failed to start has ran = false and `error`.
Result run_model(Ctx& c, const Model& model);

/// The feeder comparison (run.cpp): sets up both nodes, runs o.models,
/// prints the table, writes --json and --plot, restores the nodes.
/// Returns the exit status.
int run_feeder_comparison(Options& o);

/// --same-device (same_device.cpp): the producer-driven FIFO for every
/// model, then /dev/asyncmem for those that apply; the tables, --json,
/// --plot; restores the nodes. Returns the exit status.
int run_same_device(Options& o);

/// Writes the pattern to o.mem and sets it to the run's latency (used by
/// both comparisons): enough slots that requests in flight never share one.
Image load_mem(const Options& o, DeviceSetup& dev);

} // namespace bench
