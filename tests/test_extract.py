import pytest

from codescaler import extract_code
from codescaler.extraction.extract import extract_program
from codescaler.extraction.syntax import syntax_error

GOOD = "def f(x):\n    return x + 1"


def fenced(code: str, info: str = "python", fence: str = "```") -> str:
    return f"{fence}{info}\n{code}\n{fence}"


@pytest.mark.parametrize("info", ["python", "py", "", "Python3"])
def test_strict_single_block_any_info_string(info):
    result = extract_code("Here you go:\n" + fenced(GOOD, info) + "\nDone.")
    assert result.valid and result.code == GOOD and result.reason is None


def test_strict_rejects_no_block_and_bare_code():
    assert extract_code(GOOD).reason == "no_block"
    assert extract_code("just words").reason == "no_block"


def test_strict_rejects_multiple_blocks_even_if_each_parses():
    result = extract_code(fenced(GOOD) + "\nand\n" + fenced("print(f(1))"))
    assert not result.valid and result.reason == "multiple_blocks" and result.code == ""


def test_strict_rejects_unterminated_fence():
    assert extract_code("```python\n" + GOOD).reason == "no_block"


def test_syntax_error_names_the_line():
    result = extract_code(fenced("def f(x):\n    return x +\n"))
    assert not result.valid and result.reason == "syntax_error: 2"


def test_empty_inputs():
    assert extract_code("").reason == "empty"
    assert extract_code("   \n\n").reason == "empty"
    assert extract_code(fenced("   ")).reason == "empty"


def test_crlf_and_tabs():
    code = "def f(x):\r\n\tif x:\r\n\t\treturn 1\r\n\treturn 0"
    result = extract_code("```python\r\n" + code + "\r\n```\r\n")
    assert result.valid and "\r" not in result.code and "\treturn 1" in result.code


def test_mixed_tabs_and_spaces_is_a_syntax_error():
    result = extract_code(fenced("def f(x):\n\tif x:\n        return 1"))
    assert not result.valid and result.reason.startswith("syntax_error")


def test_think_block_is_dropped_with_its_fences():
    reasoning = "<think>Maybe:\n" + fenced("def g(): pass") + "\nno, better:</think>"
    result = extract_code(reasoning + "\n" + fenced(GOOD))
    assert result.valid and result.code == GOOD


def test_unclosed_think_has_no_answer():
    assert not extract_code("<think>still thinking " + fenced(GOOD)).valid


def test_four_backtick_fence_holds_a_three_backtick_line_under_lenient():
    code = 'DOC = """\n```\nexample\n```\n"""\n' + GOOD
    result = extract_code(fenced(code, fence="````"), mode="lenient")
    assert result.valid and result.code == code
    # strict reads blocks as the authors' extractor does: the inner ``` closes the block, and more follow
    assert extract_code(fenced(code, fence="````")).reason == "multiple_blocks"


def test_fence_inside_a_string_literal_does_not_close_the_block_under_lenient():
    code = 's = "```"\n' + GOOD
    result = extract_code(fenced(code), mode="lenient")
    assert result.valid and result.code == code
    assert extract_code(fenced(code)).reason == "syntax_error: 1"  # the authors' block ends inside the string


@pytest.mark.parametrize(
    "ending",
    [
        "<|im_end|>",
        "<|endoftext|>",
        "<|im_end|><|endoftext|><|endoftext|>",
        "</s>",
        "<|eot_id|>",
        "<｜end▁of▁sentence｜>",
    ],
)
def test_a_closing_fence_followed_by_an_end_token_closes(ending):
    # OpenRLHF and verl hand over text decoded with its special tokens: the answer is the same answer.
    for mode in ("strict", "lenient", "last"):
        result = extract_code("Here:\n" + fenced(GOOD) + ending, mode=mode)
        assert result.valid and result.code == GOOD, (mode, result)


def test_left_padding_and_a_completion_ending_in_an_end_token():
    padded = "<|endoftext|><|endoftext|>" + fenced(GOOD) + "<|im_end|>"
    assert extract_code(padded).code == GOOD
    found = extract_program("    return x + 1<|endoftext|>", code_prefix="def f(x):\n")
    assert found.valid and found.code == GOOD


def test_special_tokens_inside_the_code_are_kept():
    code = 'END = "<|im_end|>"\n' + GOOD
    assert extract_code(fenced(code)).code == code


def test_closing_fence_on_the_code_line_closes_as_for_the_authors():
    assert extract_code("```python\n" + GOOD + "```").code == GOOD


def test_an_unclosed_second_block_does_not_count_as_the_authors_count_blocks():
    assert extract_code(fenced(GOOD) + "\nThen run:\n```python\nprint(f(1))").code == GOOD


def test_non_utf8_bytes_are_replaced():
    raw = ("```python\n" + GOOD + "\n# caf").encode() + b"\xff\xfe" + b"\n```"
    result = extract_code(raw)
    assert result.valid and "\ufffd" in result.code


def test_indented_block_is_dedented():
    block = "  ```python\n  def f():\n      return 1\n  ```"
    assert extract_code("1. Do this:\n" + block).code == "def f():\n    return 1"


def test_large_response_is_handled():
    body = "x = 1\n" * 150_000  # ~0.9 MB of code
    result = extract_code("prose " * 10_000 + "\n" + fenced(body))
    assert result.valid and result.code.count("\n") == 149_999


def test_lenient_takes_last_parsing_block():
    text = fenced("def broken(:") + "\n" + fenced(GOOD) + "\n" + fenced("def also_broken(:")
    result = extract_code(text, mode="lenient")
    assert result.valid and result.code == GOOD


def test_lenient_accepts_bare_program_and_unterminated_fence():
    assert extract_code(GOOD, mode="lenient").code == GOOD
    assert extract_code("```python\n" + GOOD, mode="lenient").code == GOOD


def test_lenient_reports_why_when_nothing_parses():
    assert extract_code(fenced("def broken(:"), mode="lenient").reason.startswith("syntax_error")
    assert extract_code("Just use a hash map.", mode="lenient").reason == "no_block"


def test_unknown_mode_and_language_are_errors():
    with pytest.raises(ValueError, match="mode"):
        extract_code(fenced(GOOD), mode="fuzzy")
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        extract_code(fenced(GOOD), language="cobol")


@pytest.mark.parametrize(
    "language,good,bad",
    [
        ("cpp", "#include <vector>\nint f(int x) { return x + 1; }", "int f(int x) { return x + 1 }"),
        ("java", "class A { int f(int x) { return x + 1; } }", "class A { int f(int x) { return x + 1; }"),
        ("javascript", "function f(x) { return x + 1; }", "function f(x) { return x + ; }"),
        ("go", "package main\nfunc f(x int) int { return x + 1 }", "package main\nfunc f(x int) int { return x + }"),
        ("rust", "fn f(x: i32) -> i32 { x + 1 }", "fn f(x: i32) -> i32 { let y = ; y }"),
    ],
)
def test_other_languages_use_tree_sitter(language, good, bad):
    assert extract_code(fenced(good, language), language=language).valid
    result = extract_code(fenced(bad, language), language=language)
    assert not result.valid and result.reason.startswith("syntax_error: ")


def test_missing_node_counts_as_error():
    # tree-sitter repairs a missing ';' with a MISSING node rather than an ERROR node.
    assert syntax_error("int main() { return 0 }", "cpp") == "syntax_error: 1"


def test_deeply_nested_python_is_invalid_not_a_crash():
    assert syntax_error("x = " + "(" * 5000 + ")" * 5000).startswith("syntax_error")


def test_names_check_rejects_a_name_the_program_never_defines():
    prefix = "def gcd(a, b):\n"
    missing = extract_program("    return math.gcd(a, b)\n", code_prefix=prefix, check="names")
    assert not missing.valid and missing.code == "" and missing.reason == "undefined_name: 2 math"
    # the paper's check is syntax only: the same program is valid without the names check
    assert extract_program("    return math.gcd(a, b)\n", code_prefix=prefix).valid
    imported = extract_program(fenced("import math\n" + prefix + "    return math.gcd(a, b)"), check="names")
    assert imported.valid
    # builtins, parameters, later module-level definitions and names bound in comprehensions all resolve
    later = "def f(xs):\n    return helper(len(xs)) + sum(y for y in xs)\n\ndef helper(n):\n    return n"
    assert extract_program(fenced(later), check="names").valid


def test_names_check_leaves_other_languages_and_unknown_checks():
    cpp = "int main() { return undefined_thing; }"
    assert extract_program(fenced(cpp, "cpp"), "cpp", check="names").valid
    with pytest.raises(ValueError, match="check must be"):
        extract_program(fenced(GOOD), check="types")


def test_a_valid_program_stays_valid_while_another_thread_formats_tracebacks():
    """CPython 3.11 shares the AST builder's depth counter between threads: a traceback formatted meanwhile (it
    parses its source line) used to fail a good parse with a SystemError. Garbage with finalizers makes the
    parsing thread hand over the GIL mid-build, as a busy server's would."""
    import threading
    import traceback

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            sum(range(50))

    stop = threading.Event()

    def format_tracebacks():
        while not stop.is_set():
            for _ in range(200):
                Cycle()
            try:
                (lambda: 1 / 0)()
            except ZeroDivisionError:
                traceback.format_exc()

    thread = threading.Thread(target=format_tracebacks, daemon=True)
    thread.start()
    body = "x = 1\n" * 50_000
    try:
        results = [extract_code(fenced(body)) for _ in range(8)]
    finally:
        stop.set()
        thread.join()
    assert all(r.valid for r in results)
