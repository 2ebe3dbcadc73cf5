/* Korean addresses, and the place names and surnames behind them.
 *
 * A road-name address is 시/도 → 시/군/구 → road (…로, …길) + building
 * number; a lot address ends in a neighbourhood (…동, …리, …가) + lot
 * number. Both are found from their number backwards: the word before it
 * must be a road or a neighbourhood, and somewhere before that there must
 * be a province, city, county or district from the lists below, which is
 * what keeps "운동 3번" or "친구 집 2층" from counting. */
#include <string.h>

#include "pii/places.h"

/* Provinces and metropolitan cities, long and short forms. */
static const char *const provinces[] = {
    "서울특별시", "서울시", "서울", "부산광역시", "부산시", "부산", "대구광역시", "대구시", "대구",
    "인천광역시", "인천시", "인천", "광주광역시", "광주", "대전광역시", "대전시", "대전",
    "울산광역시", "울산시", "울산", "세종특별자치시", "세종시", "세종", "경기도", "경기",
    "강원특별자치도", "강원도", "강원", "충청북도", "충북", "충청남도", "충남", "전라북도",
    "전북특별자치도", "전북", "전라남도", "전남", "경상북도", "경북", "경상남도", "경남",
    "제주특별자치도", "제주도", "제주", NULL,
};

/* Cities, counties and districts (시, 군, 구). */
static const char *const districts[] = {
    /* Seoul */
    "종로구", "중구", "용산구", "성동구", "광진구", "동대문구", "중랑구", "성북구", "강북구", "도봉구",
    "노원구", "은평구", "서대문구", "마포구", "양천구", "강서구", "구로구", "금천구", "영등포구",
    "동작구", "관악구", "서초구", "강남구", "송파구", "강동구",
    /* metropolitan cities */
    "서구", "동구", "남구", "북구", "영도구", "부산진구", "동래구", "해운대구", "사하구", "금정구",
    "연제구", "수영구", "사상구", "기장군", "수성구", "달서구", "달성군", "군위군", "미추홀구",
    "연수구", "남동구", "부평구", "계양구", "강화군", "옹진군", "광산구", "유성구", "대덕구", "울주군",
    /* Gyeonggi */
    "수원시", "성남시", "의정부시", "안양시", "부천시", "광명시", "평택시", "동두천시", "안산시",
    "고양시", "과천시", "구리시", "남양주시", "오산시", "시흥시", "군포시", "의왕시", "하남시",
    "용인시", "파주시", "이천시", "안성시", "김포시", "화성시", "광주시", "양주시", "포천시", "여주시",
    "연천군", "가평군", "양평군", "장안구", "권선구", "팔달구", "영통구", "수정구", "중원구", "분당구",
    "만안구", "동안구", "원미구", "소사구", "오정구", "상록구", "단원구", "덕양구", "일산동구",
    "일산서구", "처인구", "기흥구", "수지구",
    /* Gangwon */
    "춘천시", "원주시", "강릉시", "동해시", "태백시", "속초시", "삼척시", "홍천군", "횡성군", "영월군",
    "평창군", "정선군", "철원군", "화천군", "양구군", "인제군", "고성군", "양양군",
    /* Chungcheong */
    "청주시", "충주시", "제천시", "보은군", "옥천군", "영동군", "증평군", "진천군", "괴산군", "음성군",
    "단양군", "상당구", "서원구", "흥덕구", "청원구", "천안시", "공주시", "보령시", "아산시", "서산시",
    "논산시", "계룡시", "당진시", "금산군", "부여군", "서천군", "청양군", "홍성군", "예산군", "태안군",
    "동남구", "서북구",
    /* Jeolla */
    "전주시", "군산시", "익산시", "정읍시", "남원시", "김제시", "완주군", "진안군", "무주군", "장수군",
    "임실군", "순창군", "고창군", "부안군", "완산구", "덕진구", "목포시", "여수시", "순천시", "나주시",
    "광양시", "담양군", "곡성군", "구례군", "고흥군", "보성군", "화순군", "장흥군", "강진군", "해남군",
    "영암군", "무안군", "함평군", "영광군", "장성군", "완도군", "진도군", "신안군",
    /* Gyeongsang */
    "포항시", "경주시", "김천시", "안동시", "구미시", "영주시", "영천시", "상주시", "문경시", "경산시",
    "의성군", "청송군", "영양군", "영덕군", "청도군", "고령군", "성주군", "칠곡군", "예천군", "봉화군",
    "울진군", "울릉군", "창원시", "진주시", "통영시", "사천시", "김해시", "밀양시", "거제시", "양산시",
    "의령군", "함안군", "창녕군", "남해군", "하동군", "산청군", "함양군", "거창군", "합천군", "의창구",
    "성산구", "마산합포구", "마산회원구", "진해구",
    /* Jeju */
    "제주시", "서귀포시", NULL,
};

static const char *const license_regions[] = {
    "서울", "부산", "경기", "강원", "충북", "충남", "전북", "전남", "경북", "경남", "제주", "대구",
    "인천", "광주", "대전", "울산", NULL,
};

static const char *const compound_surnames[] = {
    "남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방", NULL,
};

/* Single-syllable surnames, most common first. */
static const char *const surnames =
    "김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄채원"
    "천방공현함변염여추도소석선설마길연위표명기반라왕금옥육인맹제모탁국어은편용예경봉사부가복태목"
    "형피두감음빈동온호범좌팽승간상시갈단견당";

static int in_list(const unsigned char *s, size_t len, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == len && memcmp(s, *list, len) == 0) return 1;
    return 0;
}

size_t pii_surname_len(const unsigned char *s, size_t n)
{
    if (n >= 6)
        for (const char *const *c = compound_surnames; *c; c++)
            if (memcmp(s, *c, 6) == 0) return 6;
    if (n < 3 || s[0] < 0xEA || s[0] > 0xED) return 0;
    for (const char *p = surnames; *p; p += 3)
        if (memcmp(s, p, 3) == 0) return 3;
    return 0;
}

/* Start of the word that ends at s[e]: back over letters, digits and
 * non-ASCII characters. */
static size_t word_start(const unsigned char *s, size_t e)
{
    while (e > 0 && (s[e - 1] >= 0x80 || pii_is_alnum(s[e - 1]))) e--;
    return e;
}

size_t pii_region_before(const unsigned char *s, size_t a)
{
    size_t w = word_start(s, a);
    return in_list(s + w, a - w, license_regions) ? w : a;
}

static int ends_with_n(const unsigned char *s, size_t a, size_t b, const char *suffix, size_t len)
{
    return b - a >= len && memcmp(s + b - len, suffix, len) == 0;
}

static int starts_n(const unsigned char *s, size_t i, size_t n, const char *prefix, size_t len)
{
    return n - i >= len && memcmp(s + i, prefix, len) == 0;
}

/* For string literals, whose length the compiler knows. */
#define ends_with(s, a, b, lit) ends_with_n(s, a, b, lit, sizeof lit - 1)
#define starts(s, i, n, lit) starts_n(s, i, n, lit, sizeof lit - 1)

/* digits, or digits-digits; returns the end, or i when there are none. */
static size_t number_end(const unsigned char *s, size_t n, size_t i)
{
    size_t j = i;
    while (j < n && pii_is_digit(s[j])) j++;
    if (j > i && j + 1 < n && s[j] == '-' && pii_is_digit(s[j + 1])) {
        j++;
        while (j < n && pii_is_digit(s[j])) j++;
    }
    return j;
}

static const char *const unit_suffixes[] = {"호실", "번지", "단지", "블록", "동", "호", "층", NULL};
static const char *const building_suffixes[] = {
    "아파트", "빌라", "오피스텔", "빌딩", "타워", "맨션", "하이츠", "상가", "센터", "프라자", "플라자",
    "팰리스", "타운", "APT", NULL,
};

static int ends_with_any(const unsigned char *s, size_t a, size_t b, const char *const *list)
{
    for (; *list; list++)
        if (ends_with_n(s, a, b, *list, strlen(*list))) return 1;
    return 0;
}

/* What may follow the number: (동명), 3층, 101동 1203호, 래미안아파트 … */
static size_t address_tail(const unsigned char *s, size_t n, size_t e)
{
    for (int round = 0; round < 6; round++) {
        size_t q = e;
        if (q < n && s[q] == ',') q++;
        if (q < n && s[q] == ' ') q++;
        if (q >= n) break;
        if (s[q] == '(') {
            const unsigned char *close = memchr(s + q, ')', n - q < 60 ? n - q : 60);
            if (!close || memchr(s + q + 1, '(', (size_t)(close - s) - q - 1)) break;
            e = (size_t)(close - s) + 1;
            continue;
        }
        if (pii_is_alpha(s[q]) && starts(s, q + 1, n, "동")) { /* N동 */
            e = q + 4;
            continue;
        }
        if (starts(s, q, n, "지하")) q += 6;
        if (q < n && (s[q] == 'B' || s[q] == 'b') && q + 1 < n && pii_is_digit(s[q + 1])) q++;
        if (q < n && pii_is_digit(s[q])) {
            size_t d = number_end(s, n, q);
            const char *const *u;
            for (u = unit_suffixes; *u && !starts_n(s, d, n, *u, strlen(*u)); u++) {}
            if (!*u) break;
            e = d + strlen(*u);
            continue;
        }
        if ((s[q] >= 0xEA && s[q] <= 0xED) || pii_is_alpha(s[q])) {
            /* A building's name (래미안, e편한세상, SK뷰): it ends like one,
             * or a unit follows. */
            size_t w = q;
            while (w < n && (s[w] >= 0x80 || pii_is_alnum(s[w])) && w - q < 48) w++;
            if (ends_with_any(s, q, w, building_suffixes)) { e = w; continue; }
            if (w + 1 < n && s[w] == ' ' && pii_is_alnum(s[w + 1])) {
                size_t d = pii_is_alpha(s[w + 1]) ? w + 2 : number_end(s, n, w + 1);
                if (starts(s, d, n, "동") || starts(s, d, n, "층") || starts(s, d, n, "단지")) { e = w; continue; }
            }
        }
        break;
    }
    return e;
}

int pii_try_address(pii_masker *m, const unsigned char *s, size_t n, size_t num, size_t *end)
{
    size_t ne = number_end(s, n, num);
    if (ne == num || ne - num > 11) return 0;

    /* A unit of a named apartment block: 래미안아파트 101동 1203호 (a bare
     * "12동 507호" may be a meeting room). */
    if (starts(s, ne, n, "동") && num > 1 && s[num - 1] == ' ') {
        size_t q = ne + 3;
        if (q < n && s[q] == ' ') q++;
        size_t d = number_end(s, n, q);
        size_t w = word_start(s, num - 1);
        if (d > q && (starts(s, d, n, "호") || starts(s, d, n, "층")) &&
            ends_with_any(s, w, num - 1, building_suffixes)) {
            *end = d + 3;
            return pii_add_span(m, w, *end, PII_ADDRESS, 0, -1) ? -1 : 1;
        }
    }

    /* The road or neighbourhood before the number. */
    size_t we = num;
    if (we > 0 && s[we - 1] == ' ') we--;
    size_t ws = word_start(s, we);
    int road = 0, lot = 0;
    if (we - ws == 3 && memcmp(s + ws, "산", 3) == 0 && ws > 1 && s[ws - 1] == ' ') {
        /* 범어동 산 12: a lot on a mountain. */
        size_t w2 = word_start(s, ws - 1);
        if (ws - 1 - w2 >= 6 && (ends_with(s, w2, ws - 1, "동") || ends_with(s, w2, ws - 1, "리"))) ws = w2, lot = 1;
    } else if (we - ws >= 6) {
        road = ends_with(s, ws, we, "로") || ends_with(s, ws, we, "길");
        lot = ends_with(s, ws, we, "동") || ends_with(s, ws, we, "리") || ends_with(s, ws, we, "가");
    }
    if (!road && !lot) return 0;

    size_t e = ne;
    if (road && (starts(s, e, n, "번길") || starts(s, e, n, "길"))) {
        /* 판교역로 235번길 10, 강남대로94길 20: the number belonged to the road. */
        size_t q = e + (starts(s, e, n, "번길") ? 6 : 3);
        if (q < n && s[q] == ' ') q++;
        size_t d = number_end(s, n, q);
        if (d == q) return 0;
        e = d;
    }
    if (lot && starts(s, e, n, "번지")) e += 6;

    /* The province, city, county and district words before it. */
    size_t start = ws;
    int listed = 0;
    for (int words = 0; words < 5 && start > 1; words++) {
        size_t b = start;
        while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == ',') && start - b < 2) b--;
        if (b == start) break;
        size_t a = word_start(s, b);
        if (a == b) break;
        if (in_list(s + a, b - a, provinces) || in_list(s + a, b - a, districts)) {
            listed = 1;
        } else if (!(b - a >= 6 && (ends_with(s, a, b, "읍") || ends_with(s, a, b, "면") ||
                                    (road && ends_with(s, a, b, "동"))))) {
            break;
        }
        start = a;
    }
    if (!listed) return 0;
    *end = address_tail(s, n, e);
    return pii_add_span(m, start, *end, PII_ADDRESS, 1, -1) ? -1 : 1;
}
