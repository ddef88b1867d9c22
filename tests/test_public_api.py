"""The public surface: what ``unified_sdk`` re-exports, and that it stays cheap to import."""

from __future__ import annotations

import unified_sdk
from unified_sdk import errors


def test_all_is_sorted_and_every_name_resolves() -> None:
    names = [n for n in unified_sdk.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in unified_sdk.__all__:
        assert getattr(unified_sdk, name) is not None


def test_errors_module_exports_one_class_per_category() -> None:
    from unified_sdk import Category

    for category in Category:
        cls = errors.error_class_for(category)
        assert cls.default_category == category
        assert issubclass(cls, errors.UnifiedError)
        assert cls.__name__ in errors.__all__
    assert sorted(errors.__all__) == errors.__all__


def test_error_str_and_repr_are_readable() -> None:
    err = errors.RateLimitedError(
        "sandbox GET /v1/deals failed 429", status=429, provider="sandbox", log_id="log_1", hint="slow down"
    )
    assert str(err) == "sandbox GET /v1/deals failed 429 | hint: slow down | log_id=log_1"
    assert repr(err) == (
        "RateLimitedError('sandbox GET /v1/deals failed 429', category='rate_limited', status=429, provider='sandbox')"
    )
    assert err.category == "rate_limited" and err.retryable is False
