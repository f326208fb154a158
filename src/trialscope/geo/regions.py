"""Names the gazetteer's GeoNames spellings miss: US state codes, and the registry's country
names (ISO-style "Korea, Republic of") mapped to ISO 3166 alpha-2 codes."""

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "Washington, D.C.",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico",
}

COUNTRY_ALIASES = {
    "Korea, Republic of": "KR", "Republic of Korea": "KR", "Korea": "KR",
    "Korea, Democratic People's Republic of": "KP",
    "Russian Federation": "RU", "Iran, Islamic Republic of": "IR", "Czech Republic": "CZ",
    "Czechia": "CZ", "Taiwan, Province of China": "TW", "Turkey": "TR", "Türkiye": "TR",
    "Viet Nam": "VN", "Vietnam": "VN", "Hong Kong": "HK", "Macao": "MO", "Macau": "MO",
    "Macedonia, The Former Yugoslav Republic of": "MK", "North Macedonia": "MK",
    "Moldova, Republic of": "MD", "Tanzania": "TZ", "Tanzania, United Republic of": "TZ",
    "Syrian Arab Republic": "SY", "Lao People's Democratic Republic": "LA",
    "Congo, The Democratic Republic of the": "CD", "Congo": "CG", "Côte D'Ivoire": "CI",
    "Cote D'Ivoire": "CI", "Ivory Coast": "CI", "Libyan Arab Jamahiriya": "LY", "Libya": "LY",
    "Palestinian Territory, occupied": "PS", "Palestine, State of": "PS", "Palestine": "PS",
    "Bolivia, Plurinational State of": "BO", "Venezuela, Bolivarian Republic of": "VE",
    "United Kingdom": "GB", "UK": "GB", "Great Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB", "United States": "US", "USA": "US",
    "United States of America": "US", "U.S.": "US", "Holy See (Vatican City State)": "VA",
    "Micronesia, Federated States of": "FM", "Virgin Islands (U.S.)": "VI",
    "Former Serbia and Montenegro": "RS", "Serbia and Montenegro": "RS", "Swaziland": "SZ",
    "Eswatini": "SZ", "Burma": "MM", "Myanmar": "MM", "Cape Verde": "CV", "Réunion": "RE",
    "Brunei Darussalam": "BN", "Federated States of Micronesia": "FM", "Netherlands Antilles": "CW",
}
