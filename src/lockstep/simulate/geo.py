"""Countries of the synthetic world: time zones, weekends, names, places and IP blocks.

The IP blocks are invented (first octets assigned per country so that geolocation is
consistent inside the world); they are not real allocations. Names are ASCII so that handles
can be derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "COUNTRIES",
    "COUNTRY_CODES",
    "Country",
    "country_index",
    "sample_offsets",
]


@dataclass(frozen=True)
class Country:
    """Static facts about one country.

    Attributes
    ----------
    code : str
        ISO 3166-1 alpha-2 code.
    offsets : tuple[float, ...]
        UTC offsets (hours) of the country's time zones.
    offset_weights : tuple[float, ...]
        Share of the population in each zone.
    user_weight : float
        Share of ordinary users living there (0 for hosting-only countries).
    weekend : tuple[int, ...]
        Weekend days, Monday = 0.
    octets : tuple[int, ...]
        First IPv4 octets of residential, mobile and office addresses.
    dc_octets : tuple[int, ...]
        First octets of data-centre (VPN, proxy, cloud) addresses.
    first_names, last_names : tuple[str, ...]
        Common names.
    places : tuple[str, ...]
        Regions and cities, for local-sounding page names.
    lang : str
        ``"en"``, ``"de"`` or ``"pt"``: the language of outlet names.
    """

    code: str
    offsets: tuple[float, ...]
    offset_weights: tuple[float, ...]
    user_weight: float
    weekend: tuple[int, ...]
    octets: tuple[int, ...]
    dc_octets: tuple[int, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    places: tuple[str, ...]
    lang: str = "en"


def _t(s: str) -> tuple[str, ...]:
    return tuple(s.split())


_US_FIRST = _t("James Mary Michael Jennifer Robert Linda David Sarah Chris Ashley Tyler Megan "
               "Brandon Kayla Jose Maria Kevin Nicole Jason Emily")
_US_LAST = _t("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson "
              "Anderson Taylor Thomas Moore Jackson White Harris Clark Lewis")

COUNTRIES: tuple[Country, ...] = (
    Country(
        "US", (-5.0, -6.0, -7.0, -8.0), (0.47, 0.29, 0.07, 0.17), 0.22, (5, 6),
        (23, 24, 47, 64, 66, 68, 71, 73, 76, 98, 99, 107), (3, 13, 34, 35, 52, 54),
        _US_FIRST, _US_LAST,
        _t("Ohio Texas Michigan Phoenix Atlanta Denver Florida Wisconsin Arizona Nevada "
           "Pennsylvania Houston Dallas Detroit Carolina Iowa Georgia Tampa Cleveland Omaha"),
    ),
    Country(
        "GB", (0.0,), (1.0,), 0.08, (5, 6), (2, 51, 62, 81, 86), (18, 20),
        _t("Oliver Amelia Harry Olivia George Isla Jack Emily Charlie Poppy Thomas Sophie "
           "Jacob Grace Alfie Lily Callum Chloe Liam Ellie"),
        _t("Smith Jones Taylor Brown Williams Wilson Evans Davies Thomas Roberts Walker Wright "
           "Hughes Edwards Green Hall Wood Harris Clarke Patel"),
        _t("Yorkshire Manchester Leeds Bristol Glasgow Kent Essex Birmingham Cardiff Norfolk "
           "Sheffield Liverpool Devon Cornwall Sussex Leicester Newcastle Surrey Derby Hull"),
    ),
    Country(
        "DE", (1.0,), (1.0,), 0.10, (5, 6), (37, 46, 77, 78, 79, 84, 87, 91, 93), (138, 142),
        _t("Lukas Anna Jonas Lena Leon Laura Felix Julia Maximilian Sarah Paul Lea Tim "
           "Katharina Jan Sophie Niklas Marie Tobias Hannah"),
        _t("Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch "
           "Richter Klein Wolf Schroeder Neumann Schwarz Braun Zimmermann Krueger"),
        _t("Sachsen Berlin Leipzig Dresden Bayern Ruhrgebiet Chemnitz Thueringen Brandenburg "
           "Hessen Bremen Hamburg Erfurt Magdeburg Rostock Kassel Zwickau Cottbus Halle Jena"),
        "de",
    ),
    Country(
        "BR", (-3.0,), (1.0,), 0.12, (5, 6), (177, 179, 186, 187, 189, 191, 200, 201), (143,),
        _t("Joao Maria Pedro Ana Lucas Juliana Gabriel Fernanda Rafael Camila Matheus Beatriz "
           "Gustavo Larissa Felipe Leticia Bruno Mariana Thiago Vanessa"),
        _t("Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Costa "
           "Ribeiro Martins Carvalho Almeida Lopes Soares Fernandes Vieira Barbosa"),
        _t("Bahia Minas Recife Curitiba Fortaleza Manaus Goias Belem Salvador Natal Santos "
           "Campinas Paraiba Maranhao Niteroi Sergipe Londrina Joinville Pelotas Uberlandia"),
        "pt",
    ),
    Country(
        "IN", (5.5,), (1.0,), 0.20, (6,), (14, 27, 49, 103, 106, 110, 117, 122), (144,),
        _t("Rahul Priya Amit Pooja Rohit Neha Vikas Anjali Sandeep Kavita Arjun Sneha Rajesh "
           "Divya Suresh Ritu Manish Swati Deepak Aarti"),
        _t("Sharma Verma Gupta Singh Kumar Patel Yadav Reddy Nair Iyer Das Mishra Joshi "
           "Chauhan Mehta Rao Pandey Jain Agarwal Thakur"),
        _t("Delhi Mumbai Kolkata Chennai Bihar Lucknow Kerala Jaipur Patna Indore Bhopal Surat "
           "Nagpur Punjab Assam Odisha Varanasi Kanpur Jammu Gujarat"),
    ),
    Country(
        "PK", (5.0,), (1.0,), 0.10, (5, 6), (39, 58, 111, 115, 119, 182), (145,),
        _t("Muhammad Ayesha Ali Fatima Ahmed Zainab Hassan Sana Usman Hira Bilal Maryam Hamza "
           "Amna Imran Sadia Faisal Nida Tariq Rabia"),
        _t("Khan Ahmed Malik Hussain Butt Qureshi Chaudhry Sheikh Raza Iqbal Abbasi Akhtar "
           "Mirza Shah Rana Afridi Bhatti Javed Siddiqui Aslam"),
        _t("Lahore Karachi Kashmir Gilgit Punjab Peshawar Quetta Islamabad Multan Sialkot "
           "Hyderabad Swat Faisalabad Rawalpindi Sindh Baltistan Muzaffarabad Mardan Gwadar Bannu"),
    ),
    Country(
        "RU", (3.0,), (1.0,), 0.04, (5, 6), (94, 95, 109, 176, 178, 188), (146, 147),
        _t("Alexander Elena Dmitry Olga Sergey Natalia Andrey Irina Alexey Tatiana Ivan Anna "
           "Mikhail Svetlana Nikolai Ekaterina Pavel Marina Artem Yulia"),
        _t("Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov "
           "Morozov Volkov Alekseev Lebedev Semenov Egorov Pavlov Kozlov Stepanov Nikolaev"),
        _t("Moscow Kazan Samara Tula Omsk Perm Tver Kursk Ufa Sochi"),
    ),
    Country(
        "IR", (3.5,), (1.0,), 0.03, (3, 4), (80, 83, 85, 89, 92), (148,),
        _t("Mohammad Fatemeh Ali Zahra Hossein Maryam Reza Narges Mehdi Sara Amir Leila Hamid "
           "Parisa Saeed Mina Javad Shirin Majid Niloufar"),
        _t("Hosseini Ahmadi Mohammadi Rezaei Moradi Karimi Jafari Rahimi Hashemi Mousavi "
           "Ghasemi Sadeghi Kazemi Heidari Najafi Akbari Rostami Ebrahimi Tehrani Azizi"),
        _t("Tehran Shiraz Tabriz Isfahan Mashhad Qom Ahvaz Karaj Yazd Rasht"),
    ),
    Country(
        "NG", (1.0,), (1.0,), 0.05, (5, 6), (41, 102, 105, 154, 197), (149,),
        _t("Chinedu Ngozi Emeka Aisha Oluwaseun Funke Ibrahim Chioma Tunde Amaka Musa Blessing "
           "Segun Adaeze Yusuf Kemi Obinna Halima Femi Zainab"),
        _t("Okafor Adeyemi Ibrahim Okonkwo Balogun Eze Abubakar Nwosu Ogunleye Bello Okeke "
           "Adebayo Mohammed Uche Afolabi Danjuma Olawale Nnamdi Ogundipe Lawal"),
        _t("Lagos Abuja Kano Ibadan Enugu Kaduna Jos Benin Owerri Calabar"),
    ),
    Country(
        "PH", (8.0,), (1.0,), 0.06, (5, 6), (112, 120, 124, 130, 175), (150,),
        _t("Juan Maria Jose Angelica Mark Kristine John Jasmine Paolo Camille Carlo Patricia "
           "Miguel Andrea Rafael Nicole Francis Bea Joshua Trisha"),
        _t("Santos Reyes Cruz Bautista Ocampo Garcia Mendoza Torres Tomas Andrada Castillo "
           "Flores Villanueva Ramos Castro Rivera Aquino Navarro Salazar Mercado"),
        _t("Manila Cebu Davao Quezon Iloilo Baguio Pasig Makati Taguig Bacolod"),
    ),
    # Hosting-only countries: VPN exits and cloud servers, no ordinary users.
    Country("NL", (1.0,), (1.0,), 0.0, (5, 6), (151,), (185, 193), _US_FIRST, _US_LAST,
            _t("Amsterdam")),
    Country("SG", (8.0,), (1.0,), 0.0, (5, 6), (152,), (128, 139, 159), _US_FIRST, _US_LAST,
            _t("Singapore")),
)

COUNTRY_CODES: tuple[str, ...] = tuple(c.code for c in COUNTRIES)


def country_index(code: str) -> int:
    """Position of a country code in :data:`COUNTRIES`.

    Parameters
    ----------
    code : str
        ISO alpha-2 code.

    Returns
    -------
    int
        Index into :data:`COUNTRIES`.
    """
    return COUNTRY_CODES.index(code)


def sample_offsets(rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
    """Draw a UTC offset (hours) for each person from their country's time zones.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    countries : numpy.ndarray
        Country indices.

    Returns
    -------
    numpy.ndarray
        ``float64`` offsets in hours.
    """
    out = np.zeros(len(countries), dtype=np.float64)
    for ci, c in enumerate(COUNTRIES):
        mask = countries == ci
        k = int(mask.sum())
        if k:
            out[mask] = rng.choice(np.array(c.offsets), size=k, p=np.array(c.offset_weights))
    return out
