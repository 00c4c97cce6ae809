"""What tests/conftest.py sets up for every test process, checked where it must have taken effect."""

from process_utils import python_output_lines
from threadpoolctl import threadpool_info


def _openblas_threads() -> set[int]:
    return {info["num_threads"] for info in threadpool_info() if info.get("internal_api") == "openblas"}


def test_openblas_runs_one_thread_here_and_in_the_processes_tests_start():
    # Read by OpenBLAS once, when numpy loads it: this shows conftest.py set it before anything imported numpy.
    assert _openblas_threads() == {1}
    code = (
        "import numpy\nfrom threadpoolctl import threadpool_info\n"
        "print(sorted({i['num_threads'] for i in threadpool_info() if i.get('internal_api') == 'openblas'}))"
    )
    assert python_output_lines(code) == ["[1]"]
