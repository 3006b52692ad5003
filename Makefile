# The two commands of the README. Both install what is missing, then build.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: deps build run test bench format clean

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# Serving needs no npm packages (those are for the integration tests).
run: export HANEUL_SKIP_NPM := 1
run: build
	./$(BUILD)/cli/haneul serve --example

# ctest lists skipped tests without their reason; print each reason from the test log.
test: build
	@status=0; ctest --test-dir $(BUILD) --output-on-failure -j 2 --timeout 900 || status=$$?; \
	grep -h -A1 ': Skipped$$' $(BUILD)/Testing/Temporary/LastTest.log 2>/dev/null | \
	  grep -v -e '^--$$' -e ': Skipped$$' | sed 's/^/skipped because: /' || true; \
	exit $$status

bench: build
	./bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD)
