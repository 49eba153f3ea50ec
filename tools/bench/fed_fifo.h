// SPDX-License-Identifier: MIT
// asyncdev-bench: the FIFO of the readiness models in the feeder
// comparison. A feeder child process writes the pattern's slots into
// /dev/asyncdev; FifoReader reassembles and verifies them; run_fed() is the
// frame every readiness model runs in.
#pragma once

#include "bench.h"
#include "meter.h"

#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace bench {

/// The feeder: a child process writing the image's slots, in order and
/// forever, into the FIFO with blocking writes of whole records. It is a
/// separate process so that its CPU time is not the model's.
class Feeder {
public:
    /// Forks the feeder; it writes the slots of c.image into c.o.fifo.
    explicit Feeder(const Ctx& c);
    /// Kills and reaps the feeder.
    ~Feeder();
    Feeder(const Feeder&) = delete;
    Feeder& operator=(const Feeder&) = delete;

private:
    pid_t pid_ = -1;
};

/// Reassembles the FIFO's byte stream into records (one reading thread;
/// all stream fds read the same FIFO, so a record cut by a short read is
/// continued by whichever fd reads next) and verifies them in order.
class FifoReader {
public:
    FifoReader(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
        : c_(c), m_(m), r_(r), lat_(lat), rec_(c.o.size)
    {
    }
    /// One read(2) on `fd`: >0 bytes, or -errno (-EAGAIN: nothing there).
    ssize_t read_one(int fd);
    bool more() const { return more_ && !m_.finished(); }
    std::uint64_t empty() const { return empty_; }

private:
    Ctx& c_;
    Meter& m_;
    Result& r_;
    std::vector<std::uint64_t>& lat_;
    std::vector<std::byte> rec_;
    std::size_t have_ = 0;
    std::uint64_t k_ = 0, acc_ = 0, empty_ = 0;
    bool more_ = true;
};

/// The frame of a readiness model: flushes the FIFO, opens --depth
/// O_NONBLOCK stream fds, starts the feeder, begins the meter and runs
/// `body`, which reads through `rd` until rd.more() is false and returns
/// what it adds to the notes ("" or ", ..."); the notes start with the
/// fds and EAGAINs per operation.
using FedBody = std::function<std::string(FifoReader& rd, std::vector<asyncdev::Device>& fds)>;
void run_fed(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat, const FedBody& body);

} // namespace bench
