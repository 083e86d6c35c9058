int stub_lt(void) { return 13; }
