#include "service.hpp"

int main(int argc, char** argv) {
    return conveyor::conveyor_main(argc, argv);
}
