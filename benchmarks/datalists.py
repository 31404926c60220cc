"""A suite of public one-item-per-line lists, for checking nnlm's defaults on many kinds of data.

    pip install faker==40.63.0 pycountry==26.2.16 wordfreq==3.1.1
    python benchmarks/datalists.py OUT_DIR

Every list is read from tables that a PyPI package ships offline (Faker's locale providers,
pycountry's ISO databases and translations, wordfreq's frequency lists), never from Faker's random
methods, so the same package versions give the same files byte for byte. Each item is stripped of
surrounding whitespace; empty items and repeats are dropped (first appearance kept, so frequency
order survives); case is left as the data has it. Writes OUT_DIR/<name>.txt for each entry of SUITE
and prints a Markdown table: items, distinct characters, mean length, source and licenses.
"""

from __future__ import annotations

import argparse
import gettext
import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# The versions the lists were made with. Faker's tables and wordfreq's data change between
# releases, so another version gives other lists: build() still runs but warns.
PINNED = {"faker": "40.63.0", "pycountry": "26.2.16", "wordfreq": "3.1.1"}

# The license of the data the lists come from, which is not always the code's license:
# wordfreq's code is Apache-2.0 but its README (the package's long description) puts the
# frequency data under CC-BY-SA-4.0; pycountry's tables are Debian iso-codes, LGPL-2.1 like
# the package; Faker ships its tables under MIT, and where a table names its upstream source
# (GeoNames, data.gov.ua...) the spec says so beside MIT.
DATA_LICENSE = {
    "faker": "MIT",
    "pycountry": "LGPL-2.1 (Debian iso-codes)",
    "wordfreq": "CC-BY-SA-4.0",
}


@dataclass(frozen=True)
class ListSpec:
    name: str
    description: str
    package: str  # the distribution the items are read from
    license: str  # of the data, not of this script
    load: Callable[[], Iterable[str]]


# --- readers of the packages' own tables ------------------------------------------------------


def _as_list(table: object) -> list[str]:
    """Faker keeps a table as a tuple, a list, or a dict of item -> weight."""
    if isinstance(table, dict):
        return list(table)
    if isinstance(table, (tuple, list)):
        return list(table)
    return []  # e.g. es_CL computes first_names in a property: no table to read


def faker_table(module: str, attribute: str) -> Callable[[], list[str]]:
    def load() -> list[str]:
        provider = importlib.import_module(f"faker.providers.{module}").Provider
        return _as_list(getattr(provider, attribute))

    return load


def faker_it_cities() -> list[str]:
    """Italian cities from the postcode table they are made of, in its order.

    Faker's own it_IT `cities` passes them through a set, so its order changes with the
    string hash seed from one Python process to the next.
    """
    from faker.providers.address.it_IT import Provider

    return [city for places in Provider.cap_city_province.values() for city, _province in places]


def faker_first_names_all_locales() -> list[str]:
    """Every person locale's first-name tables, locales in sorted order for a stable file."""
    import faker.providers.person as person

    attributes = ("first_names", "first_names_female", "first_names_male", "first_names_nonbinary")
    names: list[str] = []
    for locale in sorted(m.name for m in pkgutil.iter_modules(person.__path__)):
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in attributes:
            names += _as_list(getattr(provider, attribute, None))
    return names


def pycountry_countries() -> list[str]:
    import pycountry

    return [c.name for c in pycountry.countries] + [c.name for c in pycountry.historic_countries]


def pycountry_subdivisions() -> list[str]:
    import pycountry

    return [s.name for s in pycountry.subdivisions]


def pycountry_languages() -> list[str]:
    import pycountry

    return [lang.name for lang in pycountry.languages]


def pycountry_country_names_translated() -> list[str]:
    """Country names in every language iso-codes translates them into: the many-scripts list."""
    import pycountry

    names: list[str] = []
    for locale in sorted(p.name for p in Path(pycountry.LOCALES_DIR).iterdir()):
        try:
            translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale])
        except OSError:  # a locale with translations of other standards only
            continue
        names += [translation.gettext(c.name) for c in pycountry.countries]
    return names


def wordfreq_top(lang: str, n: int) -> Callable[[], list[str]]:
    def load() -> list[str]:
        import wordfreq

        # "large" named outright: "best" would silently fall back to "small" for languages
        # that lack a large list, and a pinned list should not depend on that choice.
        return wordfreq.top_n_list(lang, n, wordlist="large")

    return load


# --- the suite --------------------------------------------------------------------------------


def _faker_license(upstream: str) -> str:
    """Faker ships its tables under MIT; some name where they were taken from, as said here."""
    return f"{DATA_LICENSE['faker']}; upstream {upstream}" if upstream else DATA_LICENSE["faker"]


def _faker(name: str, description: str, module: str, attribute: str, upstream: str = "") -> ListSpec:
    return ListSpec(name, description, "faker", _faker_license(upstream), faker_table(module, attribute))


def _pycountry(name: str, description: str, load: Callable[[], Iterable[str]]) -> ListSpec:
    return ListSpec(name, description, "pycountry", DATA_LICENSE["pycountry"], load)


def _wordfreq(lang: str, n: int, language: str) -> ListSpec:
    description = f"the {n:,} most frequent {language} words (wordfreq 'large', case-folded)"
    return ListSpec(f"words_{lang}", description, "wordfreq", DATA_LICENSE["wordfreq"], wordfreq_top(lang, n))


SUITE: list[ListSpec] = [
    _faker("first_names_en", "English first names (Faker en)", "person.en", "first_names"),
    _faker("first_names_ru", "Russian first names, Cyrillic (Faker ru_RU)", "person.ru_RU", "first_names"),
    _faker("first_names_el", "Greek first names, with tonos (Faker el_GR)", "person.el_GR", "first_names"),
    _faker("first_names_ar", "Arabic first names, some with diacritics (Faker ar_AA)",
           "person.ar_AA", "first_names"),
    _faker("first_names_hi", "Hindi first names, Devanagari (Faker hi_IN)", "person.hi_IN", "first_names",
           upstream="20000-names.com"),
    ListSpec("first_names_all_locales", "first names of all Faker person locales, many scripts",
             "faker", DATA_LICENSE["faker"], faker_first_names_all_locales),
    ListSpec("cities_it", "Italian place names (Faker it_IT postcode table)", "faker",
             _faker_license("GeoNames IT.zip, CC-BY-4.0"), faker_it_cities),
    _faker("localities_el", "Greek place names, genitive forms (Faker el_GR localities)",
           "address.el_GR", "localities"),
    _faker("streets_uk", "Ukrainian street names with numbers and abbreviations (Faker uk_UA)",
           "address.uk_UA", "street_titles", upstream="data.gov.ua open data"),
    _faker("banks_br", "Brazilian bank and broker names: S/A, commas, dashes (Faker pt_BR)",
           "bank.pt_BR", "banks", upstream="Banco Central do Brasil"),
    _pycountry("countries", "country names, current and historic (ISO 3166-1, 3166-3)", pycountry_countries),
    _pycountry("subdivisions", "names of states, provinces and regions, local spellings (ISO 3166-2)",
               pycountry_subdivisions),
    _pycountry("languages", "language names (ISO 639-3)", pycountry_languages),
    _pycountry("countries_all_languages", "country names in every iso-codes translation",
               pycountry_country_names_translated),
    _wordfreq("en", 150_000, "English"),
    _wordfreq("de", 120_000, "German"),
    _wordfreq("es", 50_000, "Spanish"),
    _wordfreq("ja", 30_000, "Japanese"),
]


# --- building ---------------------------------------------------------------------------------


def clean(items: Iterable[str]) -> list[str]:
    """Stripped, non-empty, first appearance only.

    An item holding a line break would become two lines, so it is dropped; nnlm splits on
    '\\n' and strips each line the same way str.strip does here.
    """
    stripped = (item.strip() for item in items)
    kept = (item for item in stripped if item and "\n" not in item and "\r" not in item)
    return list(dict.fromkeys(kept))


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_versions(packages: Iterable[str]) -> None:
    """One warning line for all packages that differ from PINNED; an error if one is missing."""
    packages = sorted(set(packages))
    missing = [p for p in packages if installed_version(p) is None]
    if missing:
        pins = " ".join(f"{p}=={PINNED[p]}" for p in missing)
        raise SystemExit(f"datalists: missing packages; pip install {pins}")
    differ = [f"{p} {installed_version(p)} (pinned {PINNED[p]})" for p in packages
              if installed_version(p) != PINNED[p]]
    if differ:
        print(f"warning: the lists may differ from the pinned ones: {', '.join(differ)}", file=sys.stderr)


def build(out_dir: str | Path, suite: list[ListSpec] | None = None) -> list[tuple[str, Path, int]]:
    """Writes out_dir/<name>.txt for each spec; returns (name, path, number of items)."""
    suite = SUITE if suite is None else suite
    check_versions(spec.package for spec in suite)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in suite:
        items = clean(spec.load())
        path = out / f"{spec.name}.txt"
        path.write_text("".join(f"{item}\n" for item in items), encoding="utf-8")
        written.append((spec.name, path, len(items)))
    return written


# --- the report -------------------------------------------------------------------------------


def package_license(package: str) -> str:
    """The license the installed package declares, so the table shows it was checked."""
    meta = metadata.metadata(package)
    declared = meta.get("License-Expression") or meta.get("License")
    if declared:
        return declared
    classifiers = meta.get_all("Classifier") or []
    return next((c.split(" :: ")[-1] for c in classifiers if c.startswith("License ::")), "unknown")


def describe(path: Path) -> tuple[int, float]:
    """Distinct characters and mean length in characters of the items in a written list."""
    items = path.read_text(encoding="utf-8").split("\n")[:-1]
    return len(set("".join(items))), sum(map(len, items)) / len(items)


def table(written: list[tuple[str, Path, int]], suite: list[ListSpec] | None = None) -> str:
    specs = {spec.name: spec for spec in (SUITE if suite is None else suite)}
    lines = ["| list | items | distinct chars | mean length | source | data license | package license "
             "(metadata) |", "|---|---:|---:|---:|---|---|---|"]
    for name, path, count in written:
        spec = specs[name]
        chars, mean = describe(path)
        source = f"{spec.package} {installed_version(spec.package)}"
        lines.append(f"| {name} | {count:,} | {chars:,} | {mean:.1f} | {source} | {spec.license} | "
                     f"{package_license(spec.package)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder for the <name>.txt lists")
    args = parser.parse_args(argv)
    print(table(build(args.out_dir)))


if __name__ == "__main__":
    main()
