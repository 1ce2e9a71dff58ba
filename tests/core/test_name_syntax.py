"""Name syntax: apimachinery's checks of names and label values, worded like the API server."""

from __future__ import annotations

from netfence.core import name_syntax


def test_dns1123_labels_are_lower_case_and_short() -> None:
    assert name_syntax.dns1123_label_errors("postgres-14") == []
    assert name_syntax.dns1123_label_errors("Postgres") == [
        "must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character"
    ]
    assert name_syntax.dns1123_label_errors("a" * 64) == ["must be no more than 63 characters"]


def test_dns1123_subdomains_allow_dots() -> None:
    assert name_syntax.dns1123_subdomain_errors("app.kubernetes.io") == []
    assert name_syntax.dns1123_subdomain_errors("app..io") != []
