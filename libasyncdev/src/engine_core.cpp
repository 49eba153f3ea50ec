// SPDX-License-Identifier: MIT
#include "engine_core.h"

#include <asyncdev/error.h>

#include <cerrno>
#include <utility>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace asyncdev::detail {

EngineCore::EngineCore(Loop& loop, std::size_t depth)
    : loop_(loop), depth_(depth == 0 ? 1 : depth),
      wakefd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
{
    if (!wakefd_)
        throw_errno("eventfd");
    watch_ = loop_.watch_fd(wakefd_.get(), EPOLLIN, [this](std::uint32_t) {
        eventfd_t n;
        (void)::eventfd_read(wakefd_.get(), &n);
        process();
    });
    // Pending work for Loop::run_until_idle(): submitted, not yet delivered.
    work_ = loop_.watch_work(
        [this] { return in_flight_ > 0 || !backlog_.empty() || !completed_.empty(); });
}

EngineCore::~EngineCore()
{
    for (Liveness* l = liveness_; l; l = l->outer)
        l->destroyed = true;
}

RequestId EngineCore::prepare(Request::Op op, int fd, void* buf, std::size_t len,
                              std::span<const iovec> iov, std::uint64_t offset,
                              Completion done)
{
    loop_.check_loop_thread("asyncdev I/O backend: read/write");
    auto r = std::make_unique<Request>();
    r->id = next_id_++;
    r->op = op;
    r->fd = fd;
    r->buf = buf;
    r->len = len;
    r->iov.assign(iov.begin(), iov.end());
    r->offset = offset;
    r->done = std::move(done);
    const RequestId id = r->id;
    prepared_.push_back(id);
    requests_.emplace(id, std::move(r));
    return id;
}

Request* EngineCore::find(RequestId id) noexcept
{
    auto it = requests_.find(id);
    return it == requests_.end() ? nullptr : it->second.get();
}

std::vector<Request*> EngineCore::in_kernel_requests()
{
    std::vector<Request*> v;
    v.reserve(in_flight_);
    for (auto& [id, r] : requests_)
        if (r->state == Request::State::in_kernel)
            v.push_back(r.get());
    return v;
}

std::size_t EngineCore::submit()
{
    loop_.check_loop_thread("asyncdev I/O backend: submit");
    for (RequestId id : prepared_) {
        if (Request* r = find(id); r && r->state == Request::State::prepared) {
            r->state = Request::State::queued;
            backlog_.push_back(id);
        }
    }
    prepared_.clear();
    const std::size_t before = in_flight_;
    fill();
    return in_flight_ > before ? in_flight_ - before : 0;
}

void EngineCore::fill()
{
    std::vector<Request*> batch;
    while (!backlog_.empty() && in_flight_ < depth_) {
        batch.clear();
        while (!backlog_.empty() && batch.size() < depth_ - in_flight_) {
            Request* r = find(backlog_.front());
            backlog_.pop_front();
            if (r && r->state == Request::State::queued)
                batch.push_back(r);
        }
        if (batch.empty())
            break;
        kernel_submit(batch);
        // Requests the backend left queued go back, in order, to the front.
        bool stalled = false;
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
            if ((*it)->state == Request::State::queued) {
                backlog_.push_front((*it)->id);
                stalled = true;
            }
        }
        if (stalled) {
            if (in_flight_ > 0)
                break; // retried when a completion frees resources
            // Nothing in flight would ever retry: fail the head instead.
            Request* head = find(backlog_.front());
            backlog_.pop_front();
            fail(*head, -EAGAIN);
        }
    }
}

void EngineCore::mark_in_kernel(Request& r) noexcept
{
    r.state = Request::State::in_kernel;
    ++in_flight_;
}

void EngineCore::complete(RequestId id, ssize_t res) noexcept
{
    Request* r = find(id);
    if (!r || r->state != Request::State::in_kernel)
        return;
    r->state = Request::State::done;
    r->res = res;
    --in_flight_;
    completed_.push_back(id);
}

void EngineCore::fail(Request& r, ssize_t res)
{
    r.state = Request::State::done;
    r.res = res;
    completed_.push_back(r.id);
    kick();
}

void EngineCore::kick() noexcept
{
    (void)::eventfd_write(wakefd_.get(), 1);
}

bool EngineCore::cancel(RequestId id)
{
    Request* r = find(id);
    if (!r)
        return false;
    switch (r->state) {
    case Request::State::prepared:
    case Request::State::queued:
        fail(*r, -ECANCELED); // the stale id in prepared_/backlog_ is skipped
        return true;
    case Request::State::in_kernel:
        kernel_cancel(*r);
        return true;
    case Request::State::done:
        break;
    }
    return false;
}

void EngineCore::abandon(RequestId id) noexcept
{
    Request* r = find(id);
    if (!r)
        return;
    if (r->state == Request::State::in_kernel) {
        kernel_cancel(*r);
        if (r->state == Request::State::in_kernel && r->bounce) {
            // The kernel only uses library memory: no need to wait for it.
            // The request stays (in flight) until its completion is
            // reaped, then dispatch() drops it without a callback.
            r->done = nullptr;
            r->abandoned = true;
            return;
        }
        while (r->state == Request::State::in_kernel) {
            try {
                reap(true);
            } catch (...) {
                // reap(true) only throws for broken contexts; nothing
                // better to do than to keep the request (and buffer) alive.
                r->done = nullptr;
                return;
            }
        }
    }
    requests_.erase(id);
    if (!completed_.empty())
        kick();
}

void EngineCore::process()
{
    reap(false);
    fill();
    dispatch();
}

void EngineCore::dispatch()
{
    // A callback may destroy the engine (a coroutine that owns its backend
    // and returns when resumed): after each callback, touch nothing of
    // `this` unless the Liveness record says it still exists.
    Liveness alive;
    alive.outer = std::exchange(liveness_, &alive);
    // Only what is complete now: callbacks may complete more (via abandon).
    for (std::size_t n = completed_.size(); n > 0 && !completed_.empty(); --n) {
        const RequestId id = completed_.front();
        completed_.pop_front();
        auto it = requests_.find(id);
        if (it == requests_.end() || it->second->state != Request::State::done)
            continue;
        Completion done = std::move(it->second->done);
        const ssize_t res = it->second->res;
        requests_.erase(it);
        if (!done)
            continue; // abandoned
        try {
            done(res);
        } catch (...) {
            if (!alive.destroyed) {
                liveness_ = alive.outer;
                if (!completed_.empty())
                    kick(); // the rest runs in a later batch
            }
            throw;
        }
        if (alive.destroyed)
            return;
    }
    liveness_ = alive.outer;
    if (!completed_.empty())
        kick();
}

void EngineCore::drain() noexcept
{
    watch_.reset();
    for (auto& [id, r] : requests_)
        if (r->state == Request::State::in_kernel)
            kernel_cancel(*r);
    while (in_flight_ > 0) {
        try {
            reap(true);
        } catch (...) {
            break; // leaks the remaining requests rather than freeing them
        }
    }
    for (auto& [id, r] : requests_)
        if (r->state == Request::State::in_kernel)
            (void)r.release(); // only if reaping failed: the kernel may still write
    requests_.clear(); // callbacks are destroyed uninvoked
}

} // namespace asyncdev::detail
