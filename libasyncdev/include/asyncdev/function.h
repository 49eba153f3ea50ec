// SPDX-License-Identifier: MIT
// asyncdev::Function: a small move-only std::function.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <utility>

namespace asyncdev {

template <class Sig>
class Function;

/// Type-erased, move-only callable (like C++23 std::move_only_function).
///
/// Unlike std::function it accepts callables that own move-only state
/// (unique_ptr buffers, RAII handles). The library stores every callback
/// it is given in one of these and destroys it on the loop thread, either
/// after invoking it or, when the owner is destroyed first, without
/// invoking it.
template <class R, class... Args>
class Function<R(Args...)> {
public:
    Function() noexcept = default;
    Function(std::nullptr_t) noexcept {}

    template <class F>
        requires(!std::same_as<std::remove_cvref_t<F>, Function> &&
                 std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
    Function(F&& f) // NOLINT: implicit like std::function
        : impl_(std::make_unique<Model<std::decay_t<F>>>(std::forward<F>(f)))
    {
    }

    Function(Function&&) noexcept = default;
    Function& operator=(Function&&) noexcept = default;
    Function& operator=(std::nullptr_t) noexcept
    {
        impl_.reset();
        return *this;
    }

    explicit operator bool() const noexcept { return impl_ != nullptr; }

    /// Precondition: not empty.
    R operator()(Args... args) { return impl_->call(std::forward<Args>(args)...); }

private:
    struct Concept {
        virtual ~Concept() = default;
        virtual R call(Args&&... args) = 0;
    };
    template <class F>
    struct Model final : Concept {
        template <class G>
        explicit Model(G&& g) : f(std::forward<G>(g))
        {
        }
        R call(Args&&... args) override { return std::invoke(f, std::forward<Args>(args)...); }
        F f;
    };
    std::unique_ptr<Concept> impl_;
};

} // namespace asyncdev
