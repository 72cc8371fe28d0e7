"""The layout is the architecture: checked by tools, not by hope (see ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rfm.engine import load_queries
from tests.conftest import ROOT

PACKAGE = ROOT / "rfm"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = 8


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the ``rfm`` package found in ``tree``, with the project's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": ""}, capture_output=True, text=True,
    )


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in result.stdout


def test_a_new_import_circle_or_upward_import_breaks_the_contracts(tmp_path):
    """The contracts are not vacuous: plant a circle and an upward import in a copy of the package."""
    shutil.copytree(PACKAGE, tmp_path / "rfm", ignore=shutil.ignore_patterns("__pycache__", "data"))
    with open(tmp_path / "rfm" / "customers" / "_scoring.py", "a") as fh:
        fh.write("\nfrom rfm.customers import _orders  # planted: _orders imports _scoring\n")
    with open(tmp_path / "rfm" / "offers" / "_hit_rate.py", "a") as fh:
        fh.write("\nimport rfm.churn  # planted: capabilities are independent\n")
    with open(tmp_path / "rfm" / "inputs" / "_values.py", "a") as fh:
        fh.write("\nimport duckdb  # planted: only the engine talks to DuckDB\n")
    with open(tmp_path / "rfm" / "engine" / "_sources.py", "a") as fh:
        fh.write("\nimport sqlglot  # planted: only the Spark engine transpiles\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    for broken in ("No import circles, at any depth BROKEN", "Capabilities are independent of each other BROKEN",
                   "Only the engine talks to DuckDB and Spark BROKEN",
                   "Only the Spark engine imports pyspark and sqlglot BROKEN"):
        assert broken in result.stdout, result.stdout[-3000:]


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}


def test_only_the_engine_writes_sql():
    """No SQL text in Python outside rfm/engine: statements live in queries/."""
    keywords = re.compile(r"\b(SELECT|CREATE|INSERT|UPDATE|DELETE|DROP|ATTACH|DESCRIBE|PRAGMA|GROUP BY)\b")
    found = []
    for path in modules():
        if path.is_relative_to(PACKAGE / "engine"):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if keywords.search(node.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_imports_inside_functions_are_the_documented_lazy_loads():
    """Heavy optional libraries only: scipy (the churn models), altair (the reports), pyspark (rfm[spark])."""
    lazy = set()
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.ImportFrom):
                        lazy.add((str(path.relative_to(ROOT)), f"{sub.module}:{','.join(a.name for a in sub.names)}"))
                    elif isinstance(sub, ast.Import):
                        lazy.add((str(path.relative_to(ROOT)), ",".join(a.name for a in sub.names)))
    assert lazy == {
        ("rfm/__init__.py", "rfm:reporting"),  # altair + the Vega bundle: only for reports
        ("rfm/__init__.py", "importlib"),  # rfm.charts: altair only when a notebook asks for charts
        ("rfm/churn/__init__.py", "rfm.churn:_models"),  # scipy: only when a model runs
        ("rfm/churn/_step.py", "rfm.churn:_models"),
        ("rfm/churn/_step.py", "rfm.churn:_propensity"),  # scikit-learn: only churn.method propensity
        ("rfm/churn/_propensity.py", "sklearn.calibration:CalibratedClassifierCV"),
        ("rfm/churn/_propensity.py", "sklearn.ensemble:HistGradientBoostingClassifier,HistGradientBoostingRegressor"),
        ("rfm/churn/_propensity.py", "sklearn.frozen:FrozenEstimator"),
        ("rfm/churn/_propensity.py", "sklearn.metrics:log_loss,roc_auc_score"),
        ("rfm/churn/_propensity.py", "sklearn.model_selection:train_test_split"),
        ("rfm/leads/_logistic.py", "sklearn.linear_model:LogisticRegression,LogisticRegressionCV"),  # the scorecard
        ("rfm/leads/_logistic.py", "sklearn.linear_model:LogisticRegression"),
        ("rfm/leads/_logistic.py", "sklearn.model_selection:StratifiedKFold"),
        ("rfm/engine/_settings.py", "rfm.engine._spark:SparkEngine"),  # pyspark + sqlglot: the optional extra
        ("rfm/engine/_postgres.py", "adbc_driver_postgresql.dbapi"),  # the postgres extra, for postgresql:// URLs
    }


def test_plain_scoring_loads_neither_scipy_nor_altair_nor_spark():
    code = (
        "import sys, rfm.cli, rfm.pipeline; "
        "print(sorted(m for m in ('scipy', 'altair', 'pyspark', 'sqlglot', 'adbc_driver_postgresql') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_query_block_is_used_and_every_use_exists():
    """No dead SQL, and no Python naming a block that does not exist (names are folder-qualified)."""
    names = set(load_queries())
    source = "\n".join(p.read_text() for p in modules())
    files = re.compile(r"\.(html|csv|json|parquet|yaml|png|svg)$")
    used = {u for u in re.findall(r'"((?:customers|churn|offers|reports)\.[a-z_]+)"', source) if not files.search(u)}
    assert used - names == set()
    unused = {n for n in names - used if not n.startswith("offers.macro_")}  # macros are named in MACROS
    assert unused == set()


def test_the_readme_and_docs_use_only_the_public_api():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    code = "\n".join(c for p in pages for c in re.findall(r"```python\n(.*?)```", p.read_text(), re.S))
    assert "rfm.Orders(" in code and "rfm.charts." in code
    private = re.findall(r"^\s*(?:from rfm\.\S+ import|import rfm\.)", code, re.M)
    assert private == []
    import rfm

    for name in re.findall(r"\brfm\.([A-Za-z_]+)\(", code):
        assert name in rfm.__all__, name
    for module, name in re.findall(r"\brfm\.(charts)\.([A-Za-z_]+)\(", code):  # the notebook charts
        import rfm.charts

        assert name in rfm.charts.__all__, name


def test_architecture_md_names_every_package():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    packages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    missing = [p for p in packages if f"rfm/{p}/" not in text]
    assert packages and missing == []
    for folder in sorted(p.name for p in (ROOT / "queries").iterdir() if p.is_dir()):
        assert f"queries/{folder}/" in text


@pytest.mark.parametrize("package", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")))
def test_every_package_says_what_it_is(package):
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert doc and len(doc.split()) >= 20, f"rfm/{package}/__init__.py needs a docstring that says what it holds"
