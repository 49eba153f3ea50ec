// SPDX-License-Identifier: MIT
// asyncdev-bench: the feeder, record reassembly, and the frame of the
// readiness models (fed_fifo.h).
#include "fed_fifo.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

Feeder::Feeder(const Ctx& c)
{
    const std::uint64_t size = c.o.size;
    std::uint64_t chunk = std::min<std::uint64_t>(c.fifo_capacity / 2, 64 * 1024);
    chunk = std::max<std::uint64_t>(chunk / size, 1);
    const Image& im = c.image;
    const char* path = c.o.fifo;
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::system_error(errno, std::system_category(), "fork");
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::sigprocmask(SIG_UNBLOCK, &stop_signals, nullptr);
        const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            ::_exit(3);
        std::uint64_t k = 0;
        for (;;) {
            const std::uint64_t n = std::min<std::uint64_t>(chunk, im.nslots - k % im.nslots);
            const std::byte* p = im.slot(k);
            std::size_t left = n * size;
            while (left) {
                const ssize_t w = ::write(fd, p, left);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    ::_exit(4);
                p += w;
                left -= static_cast<std::size_t>(w);
            }
            k += n;
        }
    }
}

Feeder::~Feeder()
{
    ::kill(pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
}

ssize_t FifoReader::read_one(int fd)
{
    const std::uint64_t t0 = tool::now_ns();
    const ssize_t n = ::read(fd, rec_.data() + have_, rec_.size() - have_);
    const std::uint64_t t1 = tool::now_ns();
    if (n < 0) {
        if (errno == EAGAIN) {
            ++empty_;
            return -EAGAIN;
        }
        if (errno == EINTR)
            return -EINTR;
        ++r_.io_errors;
        const ssize_t e = -errno;
        more_ = m_.complete(t1 - t0, t1, lat_) && more_;
        return e;
    }
    if (n == 0) { // cannot happen on the FIFO (no EOF): count it as an error
        ++r_.io_errors;
        more_ = m_.complete(t1 - t0, t1, lat_) && more_;
        return -EIO;
    }
    acc_ += t1 - t0;
    have_ += static_cast<std::size_t>(n);
    if (have_ == rec_.size()) {
        if (std::memcmp(rec_.data(), c_.image.slot(k_), rec_.size()) != 0)
            ++r_.bad_data;
        ++k_;
        have_ = 0;
        more_ = m_.complete(acc_, t1, lat_) && more_;
        acc_ = 0;
    }
    return n;
}

void run_fed(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat, const FedBody& body)
{
    const Options& o = c.o;
    {
        asyncdev::Device ctl = open_node(o.fifo, O_RDWR | O_NONBLOCK);
        ctl.flush();
    }
    auto fds = open_streams(o.fifo, o.depth, O_RDONLY | O_NONBLOCK);
    FifoReader rd(c, m, r, lat);
    Feeder feeder(c);
    m.begin();
    const std::string extra = body(rd, fds);
    const std::uint64_t ops = std::max<std::uint64_t>(m.measured(), 1);
    r.notes = std::to_string(o.depth) + " fds, " + per_op(rd.empty(), ops, "EAGAIN") + extra;
}

} // namespace bench
