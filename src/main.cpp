#include "tollgate/app/app.hpp"

int main(int argc, char** argv) { return tollgate::app::run_main(argc, argv); }
