package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashAndVerify(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=1$") {
		t.Fatalf("unexpected PHC string %q", h)
	}
	tests := []struct {
		name, hash, pw string
		want           bool
	}{
		{"Correct", h, "correct horse battery staple", true},
		{"Wrong", h, "correct horse battery stapl", false},
		{"Empty", h, "", false},
		{"MalformedHash", "$argon2id$v=19$garbage", "x", false},
		{"OtherAlgorithm", strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery staple", false},
		{"HugeMemoryRefused", strings.Replace(h, "m=65536", "m=99999999", 1), "correct horse battery staple", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyPassword(tt.hash, tt.pw); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func TestPasswordPolicy(t *testing.T) {
	if CheckPasswordPolicy("short") == nil {
		t.Fatal("short password accepted")
	}
	if CheckPasswordPolicy(strings.Repeat("x", 2000)) == nil {
		t.Fatal("huge password accepted")
	}
	if err := CheckPasswordPolicy(NewPassword()); err != nil {
		t.Fatalf("generated password refused: %v", err)
	}
}
