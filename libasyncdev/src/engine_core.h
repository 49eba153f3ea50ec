// SPDX-License-Identifier: MIT
// Private: request bookkeeping shared by AioContext, Uring and PosixAio.
#pragma once

#include <asyncdev/fd.h>
#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include <aio.h>
#include <libaio.h>
#include <linux/time_types.h>

namespace asyncdev::detail {

/// A share of a count held by a Request (Uring: the live requests that use
/// a registration): the count is one higher while the share exists.
class UseCount {
public:
    UseCount() noexcept = default;
    explicit UseCount(std::size_t& n) noexcept : n_(&n) { ++n; }
    UseCount(UseCount&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
    UseCount& operator=(UseCount&& o) noexcept
    {
        std::swap(n_, o.n_);
        return *this;
    }
    ~UseCount()
    {
        if (n_)
            --*n_;
    }

private:
    std::size_t* n_ = nullptr;
};

/// One request. Lives in EngineCore::requests_ (stable address) from
/// preparation until its callback has been taken, so the iocb/aiocb in it
/// stays valid while the kernel or the C library may touch it.
struct Request {
    enum class Op { read, write, readv, writev };
    enum class State {
        prepared,  ///< in prepared_, waits for submit()
        queued,    ///< in backlog_, waits for a free slot
        in_kernel, ///< owned by the kernel / C library
        done,      ///< in completed_, callback not yet run
    };

    RequestId id = 0;
    Op op = Op::read;
    State state = State::prepared;
    int fd = -1;
    std::uint64_t offset = 0;
    void* buf = nullptr;
    std::size_t len = 0;
    std::vector<iovec> iov;
    Completion done;
    ssize_t res = 0;
    /// Library-owned stand-in for `buf` (PosixAio on fds whose operations
    /// may block for ever: pipes, sockets, ttys, character devices). The C
    /// library reads or writes this memory, never the caller's, so that
    /// abandon() can return while such an operation still runs; a read's
    /// bytes are copied to `buf` when it completes. Null: `buf` is used.
    std::unique_ptr<std::byte[]> bounce;
    /// abandon() returned for this request while it was still in the
    /// kernel (only with `bounce`): its callback is gone and `buf` must not
    /// be touched; it stays here until the kernel is done with `bounce`.
    bool abandoned = false;
    /// Uring only: a linked timeout (IORING_OP_LINK_TIMEOUT) bounds the
    /// request when set. The request stays in the kernel until both CQEs
    /// (the operation's and the timeout's) have arrived; `res` holds the
    /// operation's meanwhile.
    bool has_timeout = false;
    bool op_cqe = false;      ///< the operation's CQE has arrived
    bool timeout_cqe = false; ///< the timeout's CQE has arrived
    bool timed_out = false;   ///< the timeout's CQE said it fired (-ETIME)
    __kernel_timespec ts{};   ///< read by the kernel when it takes the SQE
    /// Uring only: `fd` is an index into the registered files
    /// (IOSQE_FIXED_FILE).
    bool fixed_file = false;
    /// Uring only: >= 0, `buf` lies in this registered buffer
    /// (IORING_OP_READ_FIXED / WRITE_FIXED).
    int buf_index = -1;
    /// Uring only: held while the request exists (until its callback is
    /// taken, or it is abandoned or dropped), so that the registrations it
    /// uses cannot be unregistered under it.
    UseCount file_use, buf_use;
    union {
        struct iocb iocb;   // AioContext
        struct aiocb aiocb; // PosixAio
    } u{};
};

/// State machine and queues; the backends implement the kernel hooks.
/// All members run on the loop thread.
class EngineCore {
public:
    EngineCore(Loop& loop, std::size_t depth);
    /// Derived destructors call drain(). May run inside one of this
    /// engine's own callbacks: see dispatch().
    virtual ~EngineCore();

    RequestId prepare(Request::Op op, int fd, void* buf, std::size_t len,
                      std::span<const iovec> iov, std::uint64_t offset, Completion done);
    std::size_t submit();
    bool cancel(RequestId id);
    void abandon(RequestId id) noexcept;

    std::size_t depth() const noexcept { return depth_; }
    std::size_t in_flight() const noexcept { return in_flight_; }
    std::size_t queued() const noexcept { return prepared_.size() + backlog_.size(); }

protected:
    /// Hands `batch` (all State::queued) to the kernel. For each request
    /// call mark_in_kernel() or fail() or leave it queued (retried later,
    /// in order, when a completion frees resources).
    virtual void kernel_submit(std::span<Request* const> batch) = 0;
    /// Best-effort cancellation of an in-kernel request.
    virtual void kernel_cancel(Request& r) noexcept = 0;
    /// Collects finished requests and calls complete() for each;
    /// with wait, blocks until at least one completion has been collected.
    virtual void reap(bool wait) = 0;

    void mark_in_kernel(Request& r) noexcept;
    /// The kernel finished request `id` (unknown ids are ignored).
    void complete(RequestId id, ssize_t res) noexcept;
    /// Completes a request that never reached the kernel.
    void fail(Request& r, ssize_t res);
    Request* find(RequestId id) noexcept;
    std::vector<Request*> in_kernel_requests();
    /// Reap, refill and run callbacks; the loop-side entry point.
    void process();
    /// Destructor helper: cancel everything, wait for the kernel, drop all.
    void drain() noexcept;
    /// Arms the wakeup so process() runs in a later loop batch.
    /// (process() is the last thing every caller does: after it returns
    /// the engine may have been destroyed by a callback.)
    void kick() noexcept;
    /// The eventfd the loop watches; libaio (io_set_eventfd) and io_uring
    /// (io_uring_register_eventfd) signal their completions on it too.
    int wake_fd() const noexcept { return wakefd_.get(); }
    Loop& loop_;

private:
    /// One per dispatch() on the stack (nested if a callback re-enters,
    /// e.g. PosixAio::wait). The destructor marks them all: a dispatch()
    /// whose callback destroyed the engine returns without touching it.
    struct Liveness {
        bool destroyed = false;
        Liveness* outer = nullptr;
    };

    void fill();
    void dispatch();

    std::size_t depth_;
    std::size_t in_flight_ = 0;
    RequestId next_id_ = 1;
    std::unordered_map<RequestId, std::unique_ptr<Request>> requests_;
    std::vector<RequestId> prepared_;
    std::deque<RequestId> backlog_;
    std::deque<RequestId> completed_;
    UniqueFd wakefd_;
    Loop::Watch watch_;
    Loop::Watch work_;             // run_until_idle() probe
    Liveness* liveness_ = nullptr; // innermost running dispatch()
};

} // namespace asyncdev::detail
