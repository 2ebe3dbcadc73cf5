/* The chat vocabulary of the KakaoTalk-shaped benchmark generators
 * (gen-kakao, gen-pii-chat): Korean and English words and emoji, drawn
 * uniformly. Changing a list changes their output (GEN_FORMAT_VERSION). */
#ifndef CHAT_WORDS_H
#define CHAT_WORDS_H

static const char *const ko_words[] = {
    "안녕", "안녕하세요", "그리고", "근데", "그래서", "진짜", "완전", "너무",
    "오늘", "내일", "어제", "주말", "점심", "저녁", "아침", "커피", "회의",
    "퇴근", "출근", "지금", "나중에", "먼저", "혹시", "아마", "같이", "다들",
    "어디야", "뭐해", "밥", "먹었어", "먹자", "가자", "갈래", "올래", "좋아",
    "좋아요", "괜찮아", "괜찮아요", "알겠어", "알겠습니다", "감사합니다",
    "고마워", "미안", "죄송합니다", "대박", "헐", "레알", "ㅇㅇ", "ㄴㄴ",
    "ㄱㄱ", "ㅇㅋ", "잠깐만", "도착", "출발했어", "늦을", "것", "같아",
    "시간", "장소", "예약", "했어", "할게", "해줘", "보내줄게", "확인했어",
    "사진", "영상", "링크", "파일", "프로젝트", "보고서", "마감", "내일까지",
    "팀장님", "선배", "후배", "엄마", "동생", "강아지", "고양이", "날씨",
    "비", "와", "춥다", "덥다", "배고파", "졸려", "피곤해", "집", "회사",
    "학교", "카페", "역", "앞에서", "만나", "몇", "시에", "오후", "저녁에",
    "생일", "축하해", "선물", "케이크", "여행", "제주도", "부산", "서울",
    "맛집", "추천", "해주세요", "그럼", "이따", "봐", "응", "네", "아니",
    "맞아", "그치", "ㅋㅋ", "ㅋㅋㅋ", "ㅋㅋㅋㅋㅋ", "ㅎㅎ", "ㅎㅎㅎ", "ㅠㅠ",
    "ㅜㅜ", "ㄷㄷ"
};

static const char *const en_words[] = {
    "ok", "okay", "lol", "omg", "yes", "no", "sure", "thanks", "sorry",
    "the", "an", "to", "and", "in", "is", "it", "you", "that", "for", "on",
    "with", "this", "meeting", "tomorrow", "today", "tonight", "lunch",
    "dinner", "coffee", "see", "later", "where", "what", "when", "why",
    "how", "now", "soon", "late", "sounds", "good", "great", "nice", "cool",
    "deadline", "report", "file", "link", "check", "send", "call", "me",
    "let's", "go", "home", "office", "weekend", "Seoul", "Busan", "KTX",
    "PDF", "Zoom", "10", "7pm", "3:30", "2024", "100%", "v2", "ASAP", "btw"
};

static const char *const emoji[] = {
    "😂", "🤣", "😭", "👍", "🙏", "🎉", "❤️", "🔥", "😅", "🥲", "😍", "👀",
    "☕", "🍜", "👨‍👩‍👧"
};

#endif
