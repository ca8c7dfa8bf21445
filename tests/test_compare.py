"""Comparing a student's output with the expected one (grader/compare.py)."""
from __future__ import annotations

import numpy as np
import pytest

from grader.checks.compare import compare
from grader.checks.score import check_points


def verdict(expected, got, rtol=1e-7, atol=0.0):
    return compare(expected, got, rtol=rtol, atol=atol)


# --- dicts and sequences -----------------------------------------------------------------

def test_identical_dicts_pass():
    params = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))}
    result = verdict(params, {k: v.copy() for k, v in params.items()})
    assert result.passed
    assert result.message == "matches the expected output"


def test_missing_key_is_named():
    result = verdict({"W1": 1.0, "b1": 2.0}, {"W1": 1.0})
    assert not result.passed
    assert "missing key 'b1'" in result.message


def test_extra_key_is_named():
    result = verdict({"W1": 1.0}, {"W1": 1.0, "W9": 3.0})
    assert not result.passed
    assert "unexpected key 'W9'" in result.message


def test_missing_and_extra_keys_in_one_message():
    result = verdict({"a": 1.0, "b": 2.0}, {"a": 1.0, "c": 2.0})
    assert "missing key 'b'" in result.message
    assert "unexpected key 'c'" in result.message


def test_a_non_dict_where_a_dict_is_expected():
    result = verdict({"a": 1.0}, np.ones(2))
    assert not result.passed
    assert "expected a dict" in result.message
    assert "NumPy array" in result.message


def test_nested_value_difference_names_its_path():
    result = verdict({"v": {"dW1": np.zeros(3)}}, {"v": {"dW1": np.array([0.0, 0.5, 0.0])}})
    assert result.message.startswith("['v']['dW1']: 1 of 3 entries differ")


def test_tuple_length_differs():
    result = verdict((1.0, 2.0, 3.0), (1.0, 2.0))
    assert not result.passed
    assert "has 2 items, expected 3" in result.message


def test_tuple_element_difference_names_its_index():
    result = verdict((np.zeros(2), 5.0), (np.zeros(2), 6.0))
    assert not result.passed
    assert result.message.startswith("[1]: is 6, expected 5")


def test_scalar_where_a_tuple_is_expected():
    result = verdict((1.0, 2.0), 1.0)
    assert "expected a tuple of 2 items" in result.message


# --- arrays: shape, dtype, values ---------------------------------------------------------

def test_shape_checked_before_values():
    result = verdict(np.zeros((3, 1)), np.zeros((4, 1)))
    assert not result.passed
    assert result.message == "has shape (4, 1), expected (3, 1)"


def test_transposed_array_is_a_shape_error():
    result = verdict(np.zeros((2, 3)), np.zeros((3, 2)))
    assert "has shape (3, 2), expected (2, 3)" in result.message


def test_bool_array_where_floats_expected():
    result = verdict(np.array([0.0, 1.0]), np.array([False, True]))
    assert not result.passed
    assert "has dtype bool, expected float64" in result.message


def test_float_array_where_bools_expected():
    result = verdict(np.array([False, True]), np.array([0.0, 1.0]))
    assert not result.passed
    assert "dtype float64, expected bool" in result.message


def test_bool_arrays_compare_exactly():
    assert verdict(np.array([True, False]), np.array([True, False])).passed
    result = verdict(np.array([True, False, True]), np.array([True, True, True]))
    assert "1 of 3 entries differ" in result.message


def test_int_array_accepted_where_floats_expected():
    assert verdict(np.array([1.0, 2.0]), np.array([1, 2])).passed
    assert verdict(np.array([1, 2]), np.array([1.0, 2.0])).passed


def test_float32_accepted_within_tolerance():
    expected = np.array([0.1, 0.2, 0.3])
    assert verdict(expected, expected.astype(np.float32), rtol=1e-6, atol=1e-8).passed


def test_list_where_an_array_is_expected():
    result = verdict(np.ones(3), [1.0, 1.0, 1.0])
    assert not result.passed
    assert "is a list, expected a NumPy array of shape (3,)" in result.message


def test_count_and_largest_difference_message():
    expected = np.zeros((4, 5))
    got = expected.copy()
    got[1, 2] = 0.73
    got[3, 0] = -0.25
    result = verdict(expected, got)
    assert result.message == "2 of 20 entries differ; largest difference 0.73 at [1, 2]"
    assert result.differences[0].differs == ((1, 2), (3, 0))


def test_the_report_gets_both_sides():
    result = verdict(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    diff = result.differences[0].to_dict()
    assert diff["expected"] == [1.0, 2.0]
    assert diff["got"] == [1.0, 3.0]
    assert diff["differs"] == [[1]]


def test_rtol_and_atol_are_applied():
    expected = np.array([1.0, 100.0])
    assert verdict(expected, expected * (1 + 1e-8), rtol=1e-7).passed
    assert not verdict(expected, expected * (1 + 1e-6), rtol=1e-7).passed
    assert verdict(np.zeros(2), np.full(2, 1e-9), rtol=0, atol=1e-8).passed
    assert not verdict(np.zeros(2), np.full(2, 1e-7), rtol=0, atol=1e-8).passed


def test_exact_comparison_with_zero_tolerances():
    assert not verdict(np.array([1.0]), np.array([1.0 + 1e-15]), rtol=0, atol=0).passed


def test_equal_arrays_pass_with_zero_tolerances_infinities_and_other_number_types():
    expected = np.array([[1.5, -np.inf], [np.inf, 0.0]])
    assert verdict(expected, expected.copy(), rtol=0, atol=0).passed
    assert verdict(np.array([1.0, 2.0]), np.array([1, 2]), rtol=0, atol=0).passed
    assert not verdict(expected, np.array([[1.5, np.inf], [np.inf, 0.0]])).passed


# --- NaN -----------------------------------------------------------------------------------

def test_nan_where_nan_is_expected_passes():
    assert verdict(np.array([1.0, np.nan]), np.array([1.0, np.nan])).passed
    assert verdict(float("nan"), float("nan")).passed


def test_nan_where_a_number_is_expected_fails_at_its_index():
    result = verdict(np.array([1.0, 2.0, 3.0]), np.array([1.0, np.nan, 3.0]))
    assert not result.passed
    assert result.message.startswith("1 of 3 entries differ")
    assert result.message.endswith("at [1]")


def test_number_where_nan_is_expected_fails():
    assert not verdict(np.array([np.nan]), np.array([0.0])).passed
    assert not verdict(1.0, float("nan")).passed


# --- scalars --------------------------------------------------------------------------------

def test_scalar_difference_message_shows_both_and_tolerances():
    result = verdict(2.5, 3.0, rtol=1e-7, atol=1e-8)
    assert result.message == "is 3, expected 2.5 (rtol 1e-07, atol 1e-08)"


def test_int_accepted_for_a_float_scalar():
    assert verdict(3.0, 3).passed
    assert verdict(np.float64(1.5), 1.5).passed


def test_size_one_array_accepted_for_a_scalar():
    assert verdict(2.5, np.array([2.5])).passed
    assert verdict(2.5, np.array([[2.5]])).passed
    assert not verdict(2.5, np.array([[2.6]])).passed


def test_scalar_where_a_size_one_array_is_expected_is_a_type_error():
    result = verdict(np.array([2.5]), 2.5)
    assert not result.passed
    assert "expected a NumPy array of shape (1,)" in result.message


def test_bool_is_not_a_number():
    result = verdict(1.0, True)
    assert not result.passed
    assert "is a bool, expected a number" in result.message


def test_multi_entry_array_where_a_scalar_is_expected():
    result = verdict(1.0, np.ones(3))
    assert not result.passed
    assert "expected a number" in result.message


def test_none_where_a_value_is_expected():
    result = verdict(np.ones(2), None)
    assert not result.passed
    assert "is None" in result.message


def test_strings_compare_by_value():
    assert verdict("relu", "relu").passed
    assert "is 'sigmoid', expected 'relu'" in verdict("relu", "sigmoid").message


# --- leaves for partial credit ---------------------------------------------------------------

def test_leaves_count_every_entry_of_a_structure():
    expected = {"W1": np.ones(3), "b1": np.ones(3), "W2": np.ones(2), "b2": 0.5}
    got = {"W1": np.ones(3), "b1": np.zeros(3), "W2": np.ones(2), "b2": 0.7}
    result = verdict(expected, got)
    assert result.leaves == 4
    assert result.failed_leaves == 2
    assert "(and 1 more difference)" in result.message


def test_partial_points_follow_the_leaves():
    expected = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    got = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 0.0}
    result = verdict(expected, got)
    assert check_points(8, result, partial=True) == pytest.approx(6.0)
    assert check_points(8, result, partial=False) == 0.0
    assert check_points(8, verdict(expected, dict(expected)), partial=True) == 8.0


def test_a_missing_key_costs_its_leaves():
    result = verdict({"a": 1.0, "b": {"c": 1.0, "d": 2.0}}, {"a": 1.0})
    assert result.leaves == 3
    assert not result.passed


def test_partial_points_for_a_missing_nested_key():
    result = verdict({"a": 1.0, "b": {"c": 1.0, "d": 2.0}}, {"a": 1.0})
    assert result.failed_leaves == 2
    assert check_points(3, result, partial=True) == pytest.approx(1.0)
